import {
  Check,
  Entity,
  EntityRepositoryType,
  Enum,
  Index,
  ManyToOne,
  type Opt,
  PrimaryKey,
  Property,
  type Ref,
  ref,
} from '@mikro-orm/core';
import { ValidationFailed } from '../../domain/errors';
import { nextSnowflake } from '../../domain/snowflake';
import type { User } from '../user/User';
import { diffChanges, type AuditChange } from './AuditLogEntry';
import { StickerRepository } from './StickerRepository';
import type { Server } from './Server';

export enum StickerFormat {
  PNG = 'PNG',
  APNG = 'APNG',
  LOTTIE = 'LOTTIE',
  GIF = 'GIF',
}

/** Sticker field limits (Discord's): name 2-30, description up to 100, tags up to 200 characters. */
export const STICKER_LIMITS = { name: { min: 2, max: 30 }, description: { max: 100 }, tags: { max: 200 } } as const;

export interface StickerFields {
  name?: unknown;
  description?: unknown;
  tags?: unknown;
}

export interface ValidStickerFields {
  name?: string;
  description?: string | null;
  tags?: string;
}

const length = (s: string) => [...s].length;
// eslint-disable-next-line no-control-regex -- control characters are what this pattern finds
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Validates the editable fields present in `input` (absent = unchanged); the name is trimmed, an
 * empty description is none.
 */
export function validateStickerFields(input: StickerFields): ValidStickerFields {
  const out: ValidStickerFields = {};
  if (input.name !== undefined) {
    const { min, max } = STICKER_LIMITS.name;
    if (typeof input.name !== 'string') throw new ValidationFailed('name', 'must be a string');
    const name = input.name.trim();
    if (length(name) < min || length(name) > max)
      throw new ValidationFailed('name', `must be ${min}-${max} characters`, { min, max });
    if (CONTROL.test(name)) throw new ValidationFailed('name', 'may not contain control characters');
    out.name = name;
  }
  if (input.description !== undefined) {
    const { max } = STICKER_LIMITS.description;
    if (input.description !== null && typeof input.description !== 'string')
      throw new ValidationFailed('description', 'must be a string or null');
    if (typeof input.description === 'string' && length(input.description) > max)
      throw new ValidationFailed('description', `must be at most ${max} characters`, { max });
    out.description = input.description === '' ? null : input.description;
  }
  if (input.tags !== undefined) {
    const { max } = STICKER_LIMITS.tags;
    if (typeof input.tags !== 'string') throw new ValidationFailed('tags', 'must be a string');
    if (length(input.tags) > max) throw new ValidationFailed('tags', `must be at most ${max} characters`, { max });
    out.tags = input.tags;
  }
  return out;
}

export function validateStickerFormat(value: unknown): StickerFormat {
  if (value === undefined) return StickerFormat.PNG;
  if (!Object.values(StickerFormat).includes(value as StickerFormat)) {
    throw new ValidationFailed('formatType', `must be one of ${Object.values(StickerFormat).join(', ')}`);
  }
  return value as StickerFormat;
}

/** A custom sticker of a server. */
@Entity({ repository: () => StickerRepository })
@Index({ name: 'Sticker_serverId_index', properties: ['server'] })
@Check({ name: 'sticker_name_check', expression: 'char_length("name") >= 2' })
export class Sticker {
  [EntityRepositoryType]?: StickerRepository;

  @PrimaryKey({ type: 'bigint', autoincrement: false })
  id: string = nextSnowflake();

  @ManyToOne({ entity: 'Server', ref: true, deleteRule: 'cascade' })
  server: Ref<Server>;

  @Property({ length: 30 })
  name: string;

  @Property({ length: 100, nullable: true })
  description: string | null = null;

  /** Autocomplete tags (Discord: a related emoji name), at most 200 characters. */
  @Property({ length: 200, default: '' })
  tags: string & Opt = '';

  @Enum({ items: () => StickerFormat, default: StickerFormat.PNG })
  formatType: StickerFormat & Opt = StickerFormat.PNG;

  @ManyToOne({ entity: 'User', ref: true, nullable: true, deleteRule: 'set null' })
  creator: Ref<User> | null;

  @Property({ defaultRaw: 'now()' })
  createdAt: Date & Opt = new Date();

  constructor(server: Server, name: string, creator: User | null) {
    this.server = ref(server);
    this.name = name;
    this.creator = creator ? ref(creator) : null;
  }

  /** What the audit log records of a sticker. */
  auditState(): Record<string, unknown> {
    return { name: this.name, description: this.description, tags: this.tags, formatType: this.formatType };
  }

  /** Applies validated fields and returns the audit changes; an edit that changes nothing returns []. */
  edit(fields: ValidStickerFields): AuditChange[] {
    const before = this.auditState();
    if (fields.name !== undefined) this.name = fields.name;
    if (fields.description !== undefined) this.description = fields.description;
    if (fields.tags !== undefined) this.tags = fields.tags;
    return diffChanges(before, this.auditState());
  }

  toPublic() {
    return {
      id: this.id,
      name: this.name,
      description: this.description,
      tags: this.tags,
      formatType: this.formatType,
      creatorId: this.creator?.id ?? null,
    };
  }
}
