import { ValidationFailed } from '../domain/errors';
import { validateChannelName, validateIntegerIn } from '../domain/servers';
import { type Channel, CHANNEL_LIMITS, ChannelType, THREAD_AUTO_ARCHIVE_MINUTES } from '../entities/channel/Channel';

/** Thread input rules: names, types per parent, auto-archive durations, slowmode (docs/architecture.md §10). */

export type ThreadTypeName = 'PUBLIC_THREAD' | 'PRIVATE_THREAD' | 'ANNOUNCEMENT_THREAD';

export interface NewThread {
  /** 1-100 characters. */
  name: string;
  /**
   * Standalone threads only. Default: PUBLIC_THREAD in a text channel, ANNOUNCEMENT_THREAD in an
   * announcement channel.
   */
  type?: ThreadTypeName;
  /** Minutes: 60, 1440 (the default), 4320 or 10080. */
  autoArchiveDuration?: number;
  /** Slowmode in seconds, 0-21600. */
  rateLimitPerUser?: number;
}

export interface ThreadPatch {
  name?: string;
  archived?: boolean;
  locked?: boolean;
  autoArchiveDuration?: number;
  rateLimitPerUser?: number;
}

export const DEFAULT_AUTO_ARCHIVE_MINUTES = 1440;

/** Whether `value` is one of THREAD_AUTO_ARCHIVE_MINUTES (the list widened to unknown to look any value up). */
function isAutoArchiveDuration(value: unknown): value is (typeof THREAD_AUTO_ARCHIVE_MINUTES)[number] {
  return (THREAD_AUTO_ARCHIVE_MINUTES as readonly unknown[]).includes(value);
}

export function validateAutoArchiveDuration(value: unknown): number {
  if (!isAutoArchiveDuration(value)) {
    throw new ValidationFailed(
      'autoArchiveDuration',
      `must be one of ${THREAD_AUTO_ARCHIVE_MINUTES.join(', ')} minutes`,
      { allowed: [...THREAD_AUTO_ARCHIVE_MINUTES] },
    );
  }
  return value;
}

function objectArg<T>(value: unknown, field: string): Partial<T> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ValidationFailed(field, 'must be an object');
  return value;
}

export function newThreadFields(input: unknown) {
  const raw = objectArg<NewThread>(input, 'thread');
  return {
    name: validateChannelName(raw.name),
    type: raw.type,
    autoArchiveDuration:
      raw.autoArchiveDuration === undefined
        ? DEFAULT_AUTO_ARCHIVE_MINUTES
        : validateAutoArchiveDuration(raw.autoArchiveDuration),
    rateLimitPerUser:
      raw.rateLimitPerUser === undefined
        ? 0
        : validateIntegerIn('rateLimitPerUser', raw.rateLimitPerUser, 0, CHANNEL_LIMITS.slowmode),
  };
}

export function patchFields(patch: unknown): ThreadPatch {
  const raw = objectArg<ThreadPatch>(patch, 'patch');
  const out: ThreadPatch = {};
  if (raw.name !== undefined) out.name = validateChannelName(raw.name);
  for (const flag of ['archived', 'locked'] as const) {
    if (raw[flag] === undefined) continue;
    if (typeof raw[flag] !== 'boolean') throw new ValidationFailed(flag, 'must be a boolean');
    out[flag] = raw[flag];
  }
  if (raw.autoArchiveDuration !== undefined)
    out.autoArchiveDuration = validateAutoArchiveDuration(raw.autoArchiveDuration);
  if (raw.rateLimitPerUser !== undefined)
    out.rateLimitPerUser = validateIntegerIn('rateLimitPerUser', raw.rateLimitPerUser, 0, CHANNEL_LIMITS.slowmode);
  return out;
}

/**
 * The thread type a parent takes: text channels hold public and private threads, announcement
 * channels announcement threads only; no other channel holds threads.
 */
export function threadTypeFor(parent: Channel, requested: unknown, fromMessage: boolean): ChannelType {
  const allowed =
    parent.type === ChannelType.GUILD_TEXT
      ? [ChannelType.PUBLIC_THREAD, ChannelType.PRIVATE_THREAD]
      : parent.type === ChannelType.GUILD_ANNOUNCEMENT
        ? [ChannelType.ANNOUNCEMENT_THREAD]
        : [];
  if (allowed.length === 0)
    throw new ValidationFailed('parent', `a ${parent.type} channel holds no threads`, {
      parentId: parent.id,
      type: parent.type,
    });
  if (requested === undefined) return allowed[0];
  if (fromMessage && requested === ChannelType.PRIVATE_THREAD)
    throw new ValidationFailed('type', 'a private thread cannot start from a message');
  if (!allowed.includes(requested as ChannelType))
    throw new ValidationFailed('type', `a ${parent.type} channel holds only ${allowed.join(' or ')}`, { allowed });
  return requested as ChannelType;
}
