import { Entity, Enum, OneToOne, type Opt, PrimaryKeyProp, Property, type Ref, ref } from '@mikro-orm/core';
import { AggregateRoot } from '../../domain/events';
import { ValidationFailed } from '../../domain/errors';
import { LIMITS } from '../../domain/limits';
import type { User } from './User';

export enum PresenceStatus {
  ONLINE = 'ONLINE',
  IDLE = 'IDLE',
  DND = 'DND',
  INVISIBLE = 'INVISIBLE',
  OFFLINE = 'OFFLINE',
}

export interface CustomStatus {
  text: string | null;
  emoji: string | null;
  expiresAt: string | null;
}

export interface Activity {
  type: 'PLAYING' | 'STREAMING' | 'LISTENING' | 'WATCHING' | 'CUSTOM' | 'COMPETING';
  name: string;
  url?: string | null;
  details?: string | null;
  state?: string | null;
}

export interface PresenceUpdate {
  status?: PresenceStatus | `${PresenceStatus}`;
  customStatus?: CustomStatus | null;
  activities?: Activity[];
}

const ACTIVITY_TYPES = new Set(['PLAYING', 'STREAMING', 'LISTENING', 'WATCHING', 'CUSTOM', 'COMPETING']);

function boundedText(field: string, value: unknown, max: number): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string' || [...value].length > max) throw new ValidationFailed(field, `must be a string of at most ${max} characters`);
  return value;
}

function validatePresenceUpdate(input: PresenceUpdate): PresenceUpdate {
  if (typeof input !== 'object' || input === null) throw new ValidationFailed('presence', 'must be an object');
  const out: PresenceUpdate = {};
  if (input.status !== undefined) {
    if (!Object.values(PresenceStatus).includes(input.status as PresenceStatus)) {
      throw new ValidationFailed('status', `must be one of ${Object.values(PresenceStatus).join(', ')}`);
    }
    out.status = input.status;
  }
  if (input.customStatus !== undefined) {
    const c = input.customStatus;
    if (c !== null && (typeof c !== 'object' || Array.isArray(c))) throw new ValidationFailed('customStatus', 'must be an object or null');
    out.customStatus =
      c === null
        ? null
        : {
            text: boundedText('customStatus.text', c.text, LIMITS.customStatus.max),
            emoji: boundedText('customStatus.emoji', c.emoji, 64),
            expiresAt: c.expiresAt == null ? null : new Date(boundedText('customStatus.expiresAt', c.expiresAt, 40)!).toISOString(),
          };
  }
  if (input.activities !== undefined) {
    if (!Array.isArray(input.activities) || input.activities.length > LIMITS.activities.max) {
      throw new ValidationFailed('activities', `must be an array of at most ${LIMITS.activities.max}`);
    }
    out.activities = input.activities.map((a, i) => {
      if (typeof a !== 'object' || a === null || !ACTIVITY_TYPES.has(a.type)) throw new ValidationFailed(`activities[${i}].type`, 'is not a known activity type');
      return {
        type: a.type,
        name: boundedText(`activities[${i}].name`, a.name, 128) ?? '',
        url: boundedText(`activities[${i}].url`, a.url, 512),
        details: boundedText(`activities[${i}].details`, a.details, 128),
        state: boundedText(`activities[${i}].state`, a.state, 128),
      };
    });
  }
  return out;
}

/** One row per user: what others see of them right now. */
@Entity()
export class UserPresence extends AggregateRoot {
  [PrimaryKeyProp]?: 'user';

  @OneToOne({ entity: 'User', primary: true, ref: true, deleteRule: 'cascade', owner: true })
  user: Ref<User>;

  @Enum({ items: () => PresenceStatus, default: PresenceStatus.OFFLINE })
  status: PresenceStatus & Opt = PresenceStatus.OFFLINE;

  @Property({ type: 'json', nullable: true })
  customStatus: CustomStatus | null = null;

  @Property({ type: 'json', default: '[]' })
  activities: Activity[] & Opt = [];

  @Property({ nullable: true })
  lastSeenAt: Date | null = null;

  @Property({ defaultRaw: 'now()', onUpdate: () => new Date() })
  updatedAt: Date & Opt = new Date();

  constructor(user: User) {
    super();
    this.user = ref(user);
  }

  /** INVISIBLE is a secret kept from everyone but the user. */
  statusSeenBy(viewerId: string): PresenceStatus {
    return this.status === PresenceStatus.INVISIBLE && viewerId !== this.user.id ? PresenceStatus.OFFLINE : this.status;
  }

  /** Applies a validated change; the caller flushes. */
  apply(update: PresenceUpdate, now = new Date()): boolean {
    const valid = validatePresenceUpdate(update);
    const before = JSON.stringify([this.status, this.customStatus, this.activities]);
    if (valid.status !== undefined) {
      const status = valid.status as PresenceStatus;
      if (status === PresenceStatus.OFFLINE && this.status !== PresenceStatus.OFFLINE) this.lastSeenAt = now;
      if (status !== PresenceStatus.OFFLINE) this.lastSeenAt = now;
      this.status = status;
    }
    if (valid.customStatus !== undefined) this.customStatus = valid.customStatus;
    if (valid.activities !== undefined) this.activities = valid.activities;
    const changed = JSON.stringify([this.status, this.customStatus, this.activities]) !== before;
    if (changed) {
      const userId = this.user.id;
      // Others are told the public face: INVISIBLE is broadcast as OFFLINE, with no activities.
      const hidden = this.status === PresenceStatus.INVISIBLE;
      this.recordEvent(
        'PRESENCE_UPDATE',
        {
          user: { id: userId },
          status: hidden ? PresenceStatus.OFFLINE : this.status,
          customStatus: hidden ? null : this.customStatus,
          activities: hidden ? [] : this.activities,
        },
        { userIds: [userId] },
      );
    }
    return changed;
  }
}
