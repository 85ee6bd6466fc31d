/** Pure rules of servers, channels, roles and expressions (docs/architecture.md §10). */
import { ValidationFailed } from './errors';
import { LIMITS } from './limits';

function boundedName(field: string, value: unknown, min: number, max: number): string {
  if (typeof value !== 'string') throw new ValidationFailed(field, 'must be a string');
  const name = value.trim();
  const length = [...name].length;
  if (length < min || length > max)
    throw new ValidationFailed(field, `must be ${min}-${max} characters`, { min, max, length });
  // eslint-disable-next-line no-control-regex -- control characters are what this pattern finds
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new ValidationFailed(field, 'may not contain control characters');
  return name;
}

export const validateServerName = (value: unknown) =>
  boundedName('name', value, LIMITS.serverName.min, LIMITS.serverName.max);
export const validateChannelName = (value: unknown) =>
  boundedName('name', value, LIMITS.channelName.min, LIMITS.channelName.max);
export const validateRoleName = (value: unknown) =>
  boundedName('name', value, LIMITS.roleName.min, LIMITS.roleName.max);

export function validateIntegerIn(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ValidationFailed(field, `must be an integer from ${min} to ${max}`, { min, max });
  }
  return value;
}

/** Emoji slots (static and animated counted separately) and sticker slots by boost tier. */
export const EXPRESSION_SLOTS: Readonly<Record<number, { emoji: number; stickers: number }>> = {
  0: { emoji: 50, stickers: 5 },
  1: { emoji: 100, stickers: 15 },
  2: { emoji: 150, stickers: 30 },
  3: { emoji: 250, stickers: 60 },
};

/** Emoji slots of a boost tier, for static and for animated emoji each. */
export function emojiSlotsFor(premiumTier: number): number {
  return (EXPRESSION_SLOTS[premiumTier] ?? EXPRESSION_SLOTS[0]).emoji;
}

export function stickerSlotsFor(premiumTier: number): number {
  return (EXPRESSION_SLOTS[premiumTier] ?? EXPRESSION_SLOTS[0]).stickers;
}

/** The highest voice bitrate a server of this boost tier may set. */
export function maxBitrate(premiumTier: number): number {
  return [96_000, 128_000, 256_000, 384_000][premiumTier] ?? 96_000;
}

export const MIN_BITRATE = 8_000;
export const MAX_TIMEOUT_MS = 28 * 24 * 3600 * 1000;

export function serverLimitFor(premium: boolean): number {
  return premium ? LIMITS.serversPerPremiumUser : LIMITS.serversPerUser;
}
