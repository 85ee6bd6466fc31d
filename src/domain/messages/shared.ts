/**
 * Helpers shared by the message rules. Internal to src/domain/messages (index.ts re-exports only the
 * length convention, `textLength`).
 */
import { ValidationFailed } from '../errors';

/**
 * Length of a string as Discord's API counts it: UTF-16 code units (JavaScript's `length`). An emoji
 * outside the BMP counts 2, a combining sequence counts every unit. Used for content, embeds and
 * attachment filenames alike, so every limit of the messaging rules means the same thing.
 */
export function textLength(value: string): number {
  return value.length;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Ill-formed UTF-16 cannot be stored as UTF-8 faithfully (the driver would write U+FFFD). */
export function hasLoneSurrogate(value: string): boolean {
  return LONE_SURROGATE.test(value);
}

/** A plain object (not an array, not null) whose own properties we may read. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An own property, never an inherited one (so `constructor`, `toString` and friends never leak in). */
export function own(record: Record<string, unknown>, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;
}

/** Refuses keys outside `allowed`, so a typo (`colour`) fails loudly instead of being dropped. */
export function rejectUnknownKeys(field: string, record: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(record)) {
    if (!allowed.includes(key))
      throw new ValidationFailed(`${field}.${key}`, 'is not a known property', { allowed: [...allowed] });
  }
}

export const MAX_URL_LENGTH = 2048;

/** An absolute http(s) URL of at most 2048 UTF-16 units, with a host, no whitespace or control characters. */
export function validateHttpUrl(field: string, value: unknown): string {
  if (typeof value !== 'string') throw new ValidationFailed(field, 'must be a string');
  if (value.length === 0) throw new ValidationFailed(field, 'must not be empty');
  if (value.length > MAX_URL_LENGTH) {
    throw new ValidationFailed(field, `must be at most ${MAX_URL_LENGTH} characters`, {
      max: MAX_URL_LENGTH,
      length: value.length,
    });
  }
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f-\u009f]/.test(value) || hasLoneSurrogate(value)) {
    throw new ValidationFailed(field, 'must not contain whitespace or control characters');
  }
  if (!/^https?:\/\//i.test(value)) throw new ValidationFailed(field, 'must be an http(s) URL');
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ValidationFailed(field, 'must be a valid URL');
  }
  if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.hostname === '') {
    throw new ValidationFailed(field, 'must be an http(s) URL with a host');
  }
  return value;
}
