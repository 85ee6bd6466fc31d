import { ValidationFailed } from '../errors';
import { LIMITS } from '../limits';
import { containsCodeFence, findInvisible, findSeparator, foldCase, reservedLookalike } from './names';

// eslint-disable-next-line no-control-regex -- control characters are what this pattern finds
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/;
/** A surrogate without its partner: not text, and PostgreSQL cannot store it (UTF-8 has no encoding for it). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Free text (bio, custom status, activity names): a string of at most `max` characters, with line
 * breaks allowed when `multiline`, and no control characters or broken surrogates, which PostgreSQL
 * would refuse (NUL) or silently replace (lone surrogates).
 */
export function checkText(
  field: string,
  value: unknown,
  max: number,
  options: { min?: number; multiline?: boolean } = {},
): string {
  if (typeof value !== 'string') throw new ValidationFailed(field, 'must be a string');
  const length = [...value].length;
  const min = options.min ?? 0;
  if (length < min || length > max)
    throw new ValidationFailed(field, `must be ${min}-${max} characters`, { min, max, length });
  if (LONE_SURROGATE.test(value)) throw new ValidationFailed(field, 'is not well-formed text');
  if (CONTROL_CHARACTERS.test(options.multiline ? value.replace(/\n/g, '') : value)) {
    throw new ValidationFailed(field, 'may not contain control characters');
  }
  return value;
}

/**
 * Usernames are unique per discriminator without regard to case or compatibility form: "Alice#0001",
 * "alice#0001" and "ａｌｉｃｅ#0001" would be indistinguishable to people, so they cannot all exist.
 * validateUsername stores the NFKC form (so "ａｌｉｃｅ" is stored as "alice"), and the database decides
 * what "the same name" means on that form: its unique index is on lower("username"), and every lookup
 * and lock uses the same lower(). This JavaScript key (NFKC and case folding) serves grouping outside
 * the database, where folding a little more than lower() does only errs on the side of "taken".
 */
export function usernameKey(username: string): string {
  return foldCase(username);
}

/**
 * Returns the username as stored or throws ValidationFailed. Stored is the NFKC form with surrounding
 * white space trimmed: "é" typed as one code point or as "e" plus a combining accent is one name, and
 * so are "ａｌｉｃｅ" and "alice". Refused: invisible code points, names that look like a reserved name,
 * the tag and mention separators and their lookalikes, and code fences (see names.ts).
 */
export function validateUsername(input: unknown): string {
  if (typeof input !== 'string') throw new ValidationFailed('username', 'must be a string');
  if (LONE_SURROGATE.test(input)) throw new ValidationFailed('username', 'is not well-formed text');
  const username = input.normalize('NFKC').trim();
  const length = [...username].length;
  const { min, max } = LIMITS.username;
  if (length < min || length > max) {
    throw new ValidationFailed('username', `must be ${min}-${max} characters`, { min, max, length });
  }
  const reserved = reservedLookalike(username);
  if (reserved) throw new ValidationFailed('username', 'is reserved', { reserved });
  const separator = findSeparator(input);
  if (separator)
    throw new ValidationFailed('username', 'may not contain @, # or : (nor a character that looks like one)', {
      character: separator,
    });
  if (containsCodeFence(username)) throw new ValidationFailed('username', 'may not contain ```');
  // Both forms: NFKC maps some invisibles to others ("ㅤ" to "ᅠ"), and the typed form is what was meant.
  const invisible = findInvisible(input.trim()) ?? findInvisible(username);
  if (invisible !== undefined) throw invisibleCharacter('username', invisible);
  if (/\s{2,}/.test(username)) throw new ValidationFailed('username', 'may not contain consecutive white space');
  return username;
}

/**
 * A display name (or any name shown in place of the username): free text of `min`-`max` characters
 * that is not invisible in part, and does not look like a reserved name. It is stored as typed (after
 * trimming): styled letters are a matter of taste here, and display names need not be unique.
 */
export function validateShownName(field: string, value: string, limits: { min: number; max: number }): string {
  const name = value.trim();
  const length = [...name].length;
  if (length < limits.min || length > limits.max)
    throw new ValidationFailed(field, `must be ${limits.min}-${limits.max} characters`, { ...limits, length });
  if (LONE_SURROGATE.test(name)) throw new ValidationFailed(field, 'is not well-formed text');
  // Not checkText's control characters: joiners inside a standard emoji sequence ("👨‍💻") are visible.
  const invisible = findInvisible(name);
  if (invisible !== undefined) throw invisibleCharacter(field, invisible);
  const reserved = reservedLookalike(name);
  if (reserved) throw new ValidationFailed(field, 'is reserved', { reserved });
  return name;
}

function invisibleCharacter(field: string, char: string): ValidationFailed {
  const codePoint = `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  return new ValidationFailed(field, 'may not contain control or invisible characters', { codePoint });
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
export function pickFreeDiscriminator(
  taken: ReadonlySet<string>,
  preferred?: string,
  random = Math.random,
): string | undefined {
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

function optionalShownName(field: string, value: unknown, limits: { min: number; max: number }): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') throw new ValidationFailed(field, 'must be a string');
  return validateShownName(field, value, limits);
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
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new ValidationFailed('profile', 'must be an object');
  const raw = input as Record<string, unknown>;
  // A misspelt field would otherwise be a silent no-op.
  const unknown = Object.keys(raw).filter((key) => !PROFILE_FIELDS.has(key));
  if (unknown.length) throw new ValidationFailed('profile', `has unknown fields: ${unknown.join(', ')}`, { unknown });
  const out: ProfileChanges = {};
  if ('displayName' in raw) out.displayName = optionalShownName('displayName', raw.displayName, LIMITS.displayName);
  if ('avatar' in raw) out.avatar = optionalText('avatar', raw.avatar, 512);
  if ('banner' in raw) out.banner = optionalText('banner', raw.banner, 512);
  if ('bio' in raw) out.bio = optionalText('bio', raw.bio, LIMITS.bio.max, 0, true);
  if ('pronouns' in raw) out.pronouns = optionalText('pronouns', raw.pronouns, LIMITS.pronouns.max);
  return out;
}
