import {
  Check,
  Entity,
  EntityRepositoryType,
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
import { EmojiRepository } from './EmojiRepository';
import type { Server } from './Server';

/** Discord's emoji name rule: 2-32 characters of letters, digits and underscores (the check constraint agrees). */
export const EMOJI_NAME_PATTERN = /^[A-Za-z0-9_]{2,32}$/;

export function validateEmojiName(value: unknown): string {
  if (typeof value !== 'string' || !EMOJI_NAME_PATTERN.test(value)) {
    throw new ValidationFailed('name', 'must be 2-32 letters, digits or underscores', { min: 2, max: 32 });
  }
  return value;
}

/** A custom emoji of a server; static and animated emoji have separate slots. */
@Entity({ repository: () => EmojiRepository })
@Index({ name: 'Emoji_serverId_animated_index', properties: ['server', 'animated'] })
@Check({ name: 'emoji_name_check', expression: `"name" ~ '^[A-Za-z0-9_]{2,32}$'` })
export class Emoji {
  [EntityRepositoryType]?: EmojiRepository;

  @PrimaryKey({ type: 'bigint', autoincrement: false })
  id: string = nextSnowflake();

  @ManyToOne({ entity: 'Server', ref: true, deleteRule: 'cascade' })
  server: Ref<Server>;

  @Property({ length: 32 })
  name: string;

  @Property({ default: false })
  animated: boolean & Opt = false;

  @ManyToOne({ entity: 'User', ref: true, nullable: true, deleteRule: 'set null' })
  creator: Ref<User> | null;

  /** Role ids allowed to use it; empty = everyone. */
  @Property({ type: 'json', default: '[]' })
  roles: string[] & Opt = [];

  @Property({ defaultRaw: 'now()' })
  createdAt: Date & Opt = new Date();

  constructor(server: Server, name: string, animated: boolean, creator: User | null) {
    this.server = ref(server);
    this.name = name;
    this.animated = animated;
    this.creator = creator ? ref(creator) : null;
  }

  /** What the audit log records of an emoji. */
  auditState(): Record<string, unknown> {
    return { name: this.name, animated: this.animated, roles: this.roles };
  }

  /**
   * Applies a validated edit (name and/or allowed roles) and returns the audit changes; an edit
   * that changes nothing returns [].
   */
  edit(changes: { name?: string; roles?: string[] }): AuditChange[] {
    const before = this.auditState();
    if (changes.name !== undefined) this.name = validateEmojiName(changes.name);
    if (changes.roles !== undefined && JSON.stringify(changes.roles) !== JSON.stringify(this.roles))
      this.roles = [...changes.roles];
    return diffChanges(before, this.auditState());
  }

  toPublic() {
    return {
      id: this.id,
      name: this.name,
      animated: this.animated,
      roles: this.roles,
      creatorId: this.creator?.id ?? null,
    };
  }
}
