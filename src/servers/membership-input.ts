import { validateShownName } from '../domain/identity/username';
import { ValidationFailed } from '../domain/errors';
import { MAX_TIMEOUT_MS, validateIntegerIn } from '../domain/servers';
import { validateAuditReason } from '../entities/server/AuditLogEntry';

export interface BanOptions {
  /** Required: 1-512 characters. */
  reason: string;
  /**
   * How many seconds of the user's most recent messages to delete, 0-604800 (7 days). Validated and
   * recorded now (audit entry change `delete_message_seconds` and the GUILD_BAN_ADD payload);
   * messages arrive in a later issue, whose deletion will act on this value.
   */
  deleteMessageSeconds?: number;
}

/** Discord's limit for a ban's message deletion window (7 days). */
export const MAX_BAN_DELETE_MESSAGE_SECONDS = 604_800;
export const NICKNAME_MAX = 32;

/** Nickname: null clears it; otherwise 1-32 characters after trimming, no control characters. */
export function validateNickname(value: unknown): string | null {
  if (value === null) return null;
  if (typeof value !== 'string') throw new ValidationFailed('nickname', 'must be a string or null');
  // Shown to everyone like a display name: the same checks (length, invisible code points, reserved lookalikes).
  return validateShownName('nickname', value, { min: 1, max: NICKNAME_MAX });
}

/** A timeout's end: null clears it; otherwise a moment in the future, at most 28 days away. */
export function validateTimeoutUntil(value: unknown, now: number = Date.now()): Date | null {
  if (value === null) return null;
  if (!(value instanceof Date) || Number.isNaN(value.getTime()))
    throw new ValidationFailed('timedOutUntil', 'must be a date or null');
  const ms = value.getTime() - now;
  if (ms <= 0) throw new ValidationFailed('timedOutUntil', 'must be in the future');
  if (ms > MAX_TIMEOUT_MS)
    throw new ValidationFailed('timedOutUntil', 'must be at most 28 days away', { maxMs: MAX_TIMEOUT_MS });
  return new Date(value.getTime());
}

export function validateBanOptions(options: unknown): { reason: string; deleteMessageSeconds: number } {
  if (typeof options !== 'object' || options === null) throw new ValidationFailed('reason', 'is required');
  const { reason, deleteMessageSeconds } = options as Partial<BanOptions>;
  if (reason === undefined || reason === null) throw new ValidationFailed('reason', 'is required');
  return {
    reason: validateAuditReason(reason) as string,
    deleteMessageSeconds:
      deleteMessageSeconds === undefined
        ? 0
        : validateIntegerIn('deleteMessageSeconds', deleteMessageSeconds, 0, MAX_BAN_DELETE_MESSAGE_SECONDS),
  };
}
