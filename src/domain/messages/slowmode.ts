/** Slowmode and bulk delete: time-based message rules. */
import { LimitReached, ValidationFailed } from '../errors';
import { PermissionFlags } from '../permissions';
import { isSnowflake, snowflakeTimestamp } from '../snowflake';

/** Slowmode is 0-21600 seconds (docs/architecture.md §10). */
export const MAX_SLOWMODE_SECONDS = 21_600;
export const BULK_DELETE_MIN = 2;
export const BULK_DELETE_MAX = 100;
/** Bulk delete refuses messages older than this (14 days). */
export const BULK_DELETE_MAX_AGE_MS = 14 * 24 * 60 * 60 * 1000;

/** Permissions any one of which bypasses slowmode. */
export const SLOWMODE_BYPASS: readonly bigint[] = Object.freeze([
  PermissionFlags.BYPASS_SLOWMODE,
  PermissionFlags.MANAGE_MESSAGES,
  PermissionFlags.MANAGE_CHANNELS,
]);

export interface SlowmodeInput {
  /** The channel's slowmode in seconds, 0-21600 (0: off). */
  rateLimitPerUser: number;
  /** The user's last message in this channel, or null if none. */
  lastMessageAt: Date | number | null;
  now: Date | number;
  /** The user's computed permissions in the channel. */
  permissions: bigint;
}

function ms(field: string, value: Date | number): number {
  const t = value instanceof Date ? value.getTime() : value;
  if (typeof t !== 'number' || !Number.isFinite(t))
    throw new ValidationFailed(field, 'must be a valid date or epoch milliseconds');
  return t;
}

/**
 * Milliseconds the user must still wait before sending: 0 when slowmode is off, when they hold
 * BYPASS_SLOWMODE, MANAGE_MESSAGES or MANAGE_CHANNELS, or when they have not sent yet. A last message
 * dated after `now` (clock skew) never makes the wait longer than the slowmode itself.
 */
export function slowmodeRemainingMs(input: SlowmodeInput): number {
  const { rateLimitPerUser, lastMessageAt, permissions } = input;
  if (
    typeof rateLimitPerUser !== 'number' ||
    !Number.isInteger(rateLimitPerUser) ||
    rateLimitPerUser < 0 ||
    rateLimitPerUser > MAX_SLOWMODE_SECONDS
  ) {
    throw new ValidationFailed('rateLimitPerUser', `must be an integer 0-${MAX_SLOWMODE_SECONDS}`, {
      max: MAX_SLOWMODE_SECONDS,
    });
  }
  if (typeof permissions !== 'bigint') throw new ValidationFailed('permissions', 'must be a bigint');
  const now = ms('now', input.now);
  if (rateLimitPerUser === 0 || lastMessageAt === null || lastMessageAt === undefined) return 0;
  if (SLOWMODE_BYPASS.some((flag) => (permissions & flag) === flag)) return 0;
  const window = rateLimitPerUser * 1000;
  const remaining = ms('lastMessageAt', lastMessageAt) + window - now;
  return Math.min(window, Math.max(0, remaining));
}

/**
 * Validates the ids of a bulk delete: an array of 2-100 (fewer: ValidationFailed, more: LimitReached
 * `bulkDelete`) distinct snowflakes (a duplicate is refused, compared canonically), none of them older
 * than 14 days at `now` by its snowflake timestamp (exactly 14 days old is still allowed). Returns
 * the ids canonical (no leading zeros), in the given order.
 */
export function validateBulkDelete(ids: unknown, now: Date | number): string[] {
  const nowMs = ms('now', now);
  if (!Array.isArray(ids)) throw new ValidationFailed('messages', 'must be an array of message ids');
  if (ids.length > BULK_DELETE_MAX) throw new LimitReached('bulkDelete', BULK_DELETE_MAX);
  if (ids.length < BULK_DELETE_MIN) {
    throw new ValidationFailed('messages', `must hold ${BULK_DELETE_MIN}-${BULK_DELETE_MAX} ids`, {
      min: BULK_DELETE_MIN,
      max: BULK_DELETE_MAX,
      length: ids.length,
    });
  }
  const seen = new Set<string>();
  const out: string[] = [];
  for (let i = 0; i < ids.length; i++) {
    const raw: unknown = ids[i];
    if (!isSnowflake(raw)) throw new ValidationFailed(`messages[${i}]`, 'must be a snowflake');
    const id = BigInt(raw).toString();
    if (seen.has(id)) throw new ValidationFailed(`messages[${i}]`, 'is a duplicate', { id });
    seen.add(id);
    const age = nowMs - snowflakeTimestamp(id).getTime();
    if (age > BULK_DELETE_MAX_AGE_MS) {
      throw new ValidationFailed(`messages[${i}]`, 'is older than 14 days and cannot be bulk deleted', {
        id,
        maxAgeMs: BULK_DELETE_MAX_AGE_MS,
      });
    }
    out.push(id);
  }
  return out;
}
