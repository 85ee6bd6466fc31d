import { ValidationFailed } from '../errors';
import { LIMITS } from '../limits';

const FORBIDDEN_NAMES = new Set(['everyone', 'here']);
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/;
/** A surrogate without its partner: not text, and PostgreSQL cannot store it (UTF-8 has no encoding for it). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Free text (bio, custom status, activity names): a string of at most `max` characters, with line
 * breaks allowed when `multiline`, and no control characters or broken surrogates, which PostgreSQL
 * would refuse (NUL) or silently replace (lone surrogates).
 */
export function checkText(field: string, value: unknown, max: number, options: { min?: number; multiline?: boolean } = {}): string {
  if (typeof value !== 'string') throw new ValidationFailed(field, 'must be a string');
  const length = [...value].length;
  const min = options.min ?? 0;
  if (length < min || length > max) throw new ValidationFailed(field, `must be ${min}-${max} characters`, { min, max, length });
  if (LONE_SURROGATE.test(value)) throw new ValidationFailed(field, 'is not well-formed text');
  if (CONTROL_CHARACTERS.test(options.multiline ? value.replace(/\n/g, '') : value)) {
    throw new ValidationFailed(field, 'may not contain control characters');
  }
  return value;
}

/**
 * Usernames are unique per discriminator without regard to case: "Alice#0001" and "alice#0001"
 * would be indistinguishable to people, so they cannot both exist. The case typed is what others see.
 * The database decides what "the same name" means (its unique index is on lower("username"), and every
 * lookup and lock uses the same lower()); this JavaScript key serves only the reserved-name check.
 */
export function usernameKey(username: string): string {
  return username.toLowerCase();
}

/** Returns the username as stored (surrounding white space trimmed) or throws ValidationFailed. */
export function validateUsername(input: unknown): string {
  if (typeof input !== 'string') throw new ValidationFailed('username', 'must be a string');
  if (LONE_SURROGATE.test(input)) throw new ValidationFailed('username', 'is not well-formed text');
  // NFC: "é" typed as one code point or as "e" + a combining accent is one name, not two look-alikes.
  const username = input.normalize('NFC').trim();
  const length = [...username].length;
  const { min, max } = LIMITS.username;
  if (length < min || length > max) {
    throw new ValidationFailed('username', `must be ${min}-${max} characters`, { min, max, length });
  }
  if (FORBIDDEN_NAMES.has(usernameKey(username))) throw new ValidationFailed('username', 'is reserved');
  if (/[@#:]/.test(username)) throw new ValidationFailed('username', 'may not contain @, # or :');
  if (username.includes('```')) throw new ValidationFailed('username', 'may not contain ```');
  if (CONTROL_CHARACTERS.test(username)) throw new ValidationFailed('username', 'may not contain control or invisible characters');
  if (/\s{2,}/.test(username)) throw new ValidationFailed('username', 'may not contain consecutive white space');
  return username;
}

export function formatDiscriminator(n: number): string {
  return String(n).padStart(4, '0');
}

export function validateDiscriminator(input: unknown): string {
  if (typeof input !== 'string' || !/^[0-9]{4}$/.test(input) || input === '0000') {
    throw new ValidationFailed('discriminator', 'must be four digits from 0001 to 9999');
  }
  return input;
}

/** Parses "name#1234". */
export function parseTag(tag: unknown): { username: string; discriminator: string } {
  if (typeof tag !== 'string') throw new ValidationFailed('tag', 'must be a string like name#0001');
  const at = tag.lastIndexOf('#');
  if (at < 0) throw new ValidationFailed('tag', 'must look like name#0001');
  return { username: validateUsername(tag.slice(0, at)), discriminator: validateDiscriminator(tag.slice(at + 1)) };
}

/**
 * Picks a free discriminator at random (so a popular name does not fill up 0001, 0002, ...), or
 * returns undefined when all are taken. `preferred` wins when it is free.
 */
export function pickFreeDiscriminator(taken: ReadonlySet<string>, preferred?: string, random = Math.random): string | undefined {
  const { min, max } = LIMITS.discriminator;
  if (preferred && !taken.has(preferred)) return preferred;
  if (taken.size >= max - min + 1) return undefined;
  // Random probing is fast while the space is sparse; a scan from a random start finishes the job.
  for (let i = 0; i < 32; i++) {
    const candidate = formatDiscriminator(min + Math.floor(random() * (max - min + 1)));
    if (!taken.has(candidate)) return candidate;
  }
  const start = Math.floor(random() * (max - min + 1));
  for (let i = 0; i <= max - min; i++) {
    const candidate = formatDiscriminator(min + ((start + i) % (max - min + 1)));
    if (!taken.has(candidate)) return candidate;
  }
  return undefined;
}

function optionalText(field: string, value: unknown, max: number, min = 0, multiline = false): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') throw new ValidationFailed(field, 'must be a string');
  const text = checkText(field, value.trim(), max, { min, multiline });
  return text.length ? text : null;
}

export interface ProfileChanges {
  displayName?: string | null;
  avatar?: string | null;
  banner?: string | null;
  bio?: string | null;
  pronouns?: string | null;
}

const PROFILE_FIELDS = new Set(['displayName', 'avatar', 'banner', 'bio', 'pronouns']);

/** Validates profile fields; absent keys are left as they are, null clears. */
export function validateProfile(input: unknown): ProfileChanges {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new ValidationFailed('profile', 'must be an object');
  const raw = input as Record<string, unknown>;
  // A misspelt field would otherwise be a silent no-op.
  const unknown = Object.keys(raw).filter((key) => !PROFILE_FIELDS.has(key));
  if (unknown.length) throw new ValidationFailed('profile', `has unknown fields: ${unknown.join(', ')}`, { unknown });
  const out: ProfileChanges = {};
  if ('displayName' in raw) out.displayName = optionalText('displayName', raw.displayName, LIMITS.displayName.max, LIMITS.displayName.min);
  if ('avatar' in raw) out.avatar = optionalText('avatar', raw.avatar, 512);
  if ('banner' in raw) out.banner = optionalText('banner', raw.banner, 512);
  if ('bio' in raw) out.bio = optionalText('bio', raw.bio, LIMITS.bio.max, 0, true);
  if ('pronouns' in raw) out.pronouns = optionalText('pronouns', raw.pronouns, LIMITS.pronouns.max);
  return out;
}
