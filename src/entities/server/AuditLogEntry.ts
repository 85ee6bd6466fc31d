import {
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
import { AggregateRoot } from '../../domain/events';
import { ValidationFailed } from '../../domain/errors';
import { LIMITS } from '../../domain/limits';
import { nextSnowflake } from '../../domain/snowflake';
import type { User } from '../user/User';
import { AuditLogRepository } from './AuditLogRepository';
import type { Server } from './Server';

/** Discord's audit log action numbers. */
export enum AuditLogAction {
  GUILD_UPDATE = 1,
  CHANNEL_CREATE = 10,
  CHANNEL_UPDATE = 11,
  CHANNEL_DELETE = 12,
  CHANNEL_OVERWRITE_CREATE = 13,
  CHANNEL_OVERWRITE_UPDATE = 14,
  CHANNEL_OVERWRITE_DELETE = 15,
  MEMBER_KICK = 20,
  MEMBER_BAN_ADD = 22,
  MEMBER_BAN_REMOVE = 23,
  MEMBER_UPDATE = 24,
  MEMBER_ROLE_UPDATE = 25,
  MEMBER_MOVE = 26,
  MEMBER_DISCONNECT = 27,
  ROLE_CREATE = 30,
  ROLE_UPDATE = 31,
  ROLE_DELETE = 32,
  INVITE_CREATE = 40,
  INVITE_UPDATE = 41,
  INVITE_DELETE = 42,
  EMOJI_CREATE = 60,
  EMOJI_UPDATE = 61,
  EMOJI_DELETE = 62,
  MESSAGE_DELETE = 72,
  MESSAGE_BULK_DELETE = 73,
  MESSAGE_PIN = 74,
  MESSAGE_UNPIN = 75,
  STICKER_CREATE = 90,
  STICKER_UPDATE = 91,
  STICKER_DELETE = 92,
}

export interface AuditChange {
  key: string;
  old?: unknown;
  new?: unknown;
}

export function validateAuditReason(reason: unknown): string | null {
  if (reason === undefined || reason === null) return null;
  const { min, max } = LIMITS.auditLogReason;
  if (typeof reason !== 'string' || [...reason].length < min || [...reason].length > max) {
    throw new ValidationFailed('reason', `must be ${min}-${max} characters`, { min, max });
  }
  return reason;
}

/** One moderation or configuration action, written in the same unit of work as the action. */
@Entity({ repository: () => AuditLogRepository })
@Index({ name: 'AuditLogEntry_serverId_id_index', properties: ['server', 'id'] })
export class AuditLogEntry extends AggregateRoot {
  [EntityRepositoryType]?: AuditLogRepository;

  @PrimaryKey({ type: 'bigint', autoincrement: false })
  id: string = nextSnowflake();

  @ManyToOne({ entity: 'Server', ref: true, deleteRule: 'cascade' })
  server: Ref<Server>;

  @ManyToOne({ entity: 'User', ref: true, nullable: true, deleteRule: 'set null' })
  actor: Ref<User> | null;

  @Property({ type: 'smallint' })
  actionType: AuditLogAction;

  @Property({ type: 'bigint', nullable: true })
  targetId: string | null;

  @Property({ type: 'json', default: '[]' })
  changes: AuditChange[] & Opt = [];

  @Property({ length: 512, nullable: true })
  reason: string | null;

  @Property({ defaultRaw: 'now()' })
  createdAt: Date & Opt = new Date();

  constructor(
    server: Server,
    actor: User | Ref<User> | null,
    actionType: AuditLogAction,
    targetId: string | null,
    changes: AuditChange[],
    reason: string | null,
  ) {
    super();
    this.server = ref(server);
    this.actor = actor ? ref(actor as User) : null;
    this.actionType = actionType;
    this.targetId = targetId;
    this.changes = changes;
    this.reason = validateAuditReason(reason);
    this.recordEvent('GUILD_AUDIT_LOG_ENTRY_CREATE', this.toPublic(), { serverId: server.id });
  }

  toPublic() {
    return {
      id: this.id,
      serverId: this.server.id,
      userId: this.actor?.id ?? null,
      actionType: this.actionType,
      targetId: this.targetId,
      changes: this.changes,
      reason: this.reason,
    };
  }
}

/** The changes between two plain objects, key by key, as Discord's audit log shows them. */
export function diffChanges(before: Record<string, unknown>, after: Record<string, unknown>): AuditChange[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  const changes: AuditChange[] = [];
  for (const key of keys) {
    const was = before[key];
    const now = after[key];
    if (JSON.stringify(was) !== JSON.stringify(now)) changes.push({ key, old: was, new: now });
  }
  return changes;
}
