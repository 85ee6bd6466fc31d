import { ValidationFailed } from '../domain/errors';
import { idArg } from '../domain/identity/ids';
import type { ReasonOption } from '../entities/server/MembershipRepository';
import { validateAuditReason } from '../entities/server/AuditLogEntry';
import type { VoiceState } from '../entities/voice/VoiceState';

export interface SelfVoiceChanges {
  selfMute?: boolean;
  selfDeaf?: boolean;
  selfVideo?: boolean;
  selfStream?: boolean;
}

export interface JoinVoiceOptions extends SelfVoiceChanges {
  /** The gateway session holding the connection (1-64 characters); a random one when omitted. */
  sessionId?: string;
}

const SELF_FLAGS = ['selfMute', 'selfDeaf', 'selfVideo', 'selfStream'] as const;

export const userIdArg = (user: unknown, field = 'user') => idArg(user, field);
export const channelIdArg = (channel: unknown, field = 'channel') => idArg(channel, field);
export const reasonOf = (options: unknown): string | null =>
  validateAuditReason(typeof options === 'object' && options !== null ? (options as ReasonOption).reason : undefined);

export function validateSelf(changes: unknown, allowSessionId: boolean): JoinVoiceOptions {
  if (changes === undefined) return {};
  if (typeof changes !== 'object' || changes === null) throw new ValidationFailed('options', 'must be an object');
  const out: JoinVoiceOptions = {};
  for (const key of SELF_FLAGS) {
    const value = (changes as Record<string, unknown>)[key];
    if (value === undefined) continue;
    if (typeof value !== 'boolean') throw new ValidationFailed(key, 'must be a boolean');
    out[key] = value;
  }
  const sessionId = (changes as Record<string, unknown>).sessionId;
  if (allowSessionId && sessionId !== undefined) {
    if (typeof sessionId !== 'string' || sessionId.length < 1 || sessionId.length > 64)
      throw new ValidationFailed('sessionId', 'must be 1-64 characters');
    out.sessionId = sessionId;
  }
  return out;
}

export function validateBoolean(field: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new ValidationFailed(field, 'must be a boolean');
  return value;
}

export function validateNonNegative(ms: unknown): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0)
    throw new ValidationFailed('olderThan', 'must be a date or a number of milliseconds');
  return ms;
}

/** Applies the self flags given; true when any of them changed. */
export function applySelf(state: VoiceState, opts: SelfVoiceChanges): boolean {
  let changed = false;
  for (const key of SELF_FLAGS) {
    if (opts[key] !== undefined && state[key] !== opts[key]) {
      state[key] = opts[key]!;
      changed = true;
    }
  }
  return changed;
}
