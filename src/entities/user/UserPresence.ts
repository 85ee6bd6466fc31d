import { Entity, Enum, OneToOne, type Opt, PrimaryKeyProp, Property, type Ref, ref } from '@mikro-orm/core';
import { AggregateRoot } from '../../domain/events';
import { ValidationFailed } from '../../domain/errors';
import { LIMITS } from '../../domain/limits';
import { checkText } from '../../domain/identity/username';
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
const UPDATE_FIELDS = new Set(['status', 'customStatus', 'activities']);
const CUSTOM_STATUS_FIELDS = new Set(['text', 'emoji', 'expiresAt']);
const ACTIVITY_FIELDS = new Set(['type', 'name', 'url', 'details', 'state']);

function boundedText(field: string, value: unknown, max: number): string | null {
  if (value === null || value === undefined) return null;
  return checkText(field, value, max);
}

function plainObject(field: string, value: unknown, allowed: ReadonlySet<string>): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ValidationFailed(field, 'must be an object');
  const unknown = Object.keys(value).filter((key) => !allowed.has(key));
  if (unknown.length) throw new ValidationFailed(field, `has unknown fields: ${unknown.join(', ')}`, { unknown });
  return value as Record<string, unknown>;
}

/** An ISO 8601 instant; anything Date cannot represent is refused rather than thrown as a RangeError. */
function instant(field: string, value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const text = boundedText(field, value, 40)!;
  const time = Date.parse(text);
  if (!Number.isFinite(time)) throw new ValidationFailed(field, 'must be an ISO 8601 date and time');
  return new Date(time).toISOString();
}

function validatePresenceUpdate(update: unknown): PresenceUpdate {
  const input = plainObject('presence', update, UPDATE_FIELDS) as PresenceUpdate;
  const out: PresenceUpdate = {};
  if (input.status !== undefined) {
    if (!Object.values(PresenceStatus).includes(input.status as PresenceStatus)) {
      throw new ValidationFailed('status', `must be one of ${Object.values(PresenceStatus).join(', ')}`);
    }
    out.status = input.status;
  }
  if (input.customStatus !== undefined) {
    const c =
      input.customStatus === null ? null : plainObject('customStatus', input.customStatus, CUSTOM_STATUS_FIELDS);
    out.customStatus =
      c === null
        ? null
        : {
            text: boundedText('customStatus.text', c.text, LIMITS.customStatus.max),
            emoji: boundedText('customStatus.emoji', c.emoji, 64),
            expiresAt: instant('customStatus.expiresAt', c.expiresAt),
          };
  }
  if (input.activities !== undefined) {
    if (!Array.isArray(input.activities) || input.activities.length > LIMITS.activities.max) {
      throw new ValidationFailed('activities', `must be an array of at most ${LIMITS.activities.max}`);
    }
    out.activities = input.activities.map((item: unknown, i) => {
      const a = plainObject(`activities[${i}]`, item, ACTIVITY_FIELDS);
      if (typeof a.type !== 'string' || !ACTIVITY_TYPES.has(a.type))
        throw new ValidationFailed(`activities[${i}].type`, 'is not a known activity type');
      return {
        type: a.type as Activity['type'],
        name: checkText(`activities[${i}].name`, a.name, 128, { min: 1 }),
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
