/** Reaction emoji: parsing what a client sends, and the key that makes "20 distinct emoji" countable. */
import { ValidationFailed } from '../errors';
import { isSnowflake } from '../snowflake';
import { hasLoneSurrogate } from './shared';

export type ParsedEmoji =
  { kind: 'unicode'; name: string } | { kind: 'custom'; id: string; name: string; animated: boolean };

/** A custom emoji's name, as Discord allows: 2-32 of letters, digits and underscores. */
const CUSTOM_NAME = '[A-Za-z0-9_]{2,32}';
const CUSTOM_TAG = new RegExp(`^<(a?):(${CUSTOM_NAME}):([0-9]{1,20})>$`);
const CUSTOM_PAIR = new RegExp(`^(${CUSTOM_NAME}):([0-9]{1,20})$`);
export const MAX_UNICODE_EMOJI_CODE_POINTS = 32;

/**
 * Parses a reaction emoji:
 * - `<:name:id>` (static) and `<a:name:id>` (animated) custom emoji, as in message content;
 * - `name:id`, the form of Discord's reaction routes (animated: false, since the form cannot say);
 * - a Unicode emoji: a non-empty string of at most 32 code points, well-formed, without whitespace or
 *   control characters, and not made only of ASCII (so `abc`, `123`, `:)` and malformed custom forms
 *   such as `<:x:1>` are refused, while keycaps like `1️⃣` pass). The string is kept as given (no
 *   variation-selector stripping), so `❤` and `❤️` are two emoji, as they are on Discord.
 * Custom ids must be snowflakes and are returned canonical (no leading zeros). Anything else:
 * ValidationFailed on `emoji`.
 */
export function parseEmoji(input: unknown): ParsedEmoji {
  if (typeof input !== 'string') throw new ValidationFailed('emoji', 'must be a string');
  const tag = CUSTOM_TAG.exec(input);
  if (tag) return custom(tag[3], tag[2], tag[1] === 'a');
  const pair = CUSTOM_PAIR.exec(input);
  if (pair) return custom(pair[2], pair[1], false);
  if (input.length === 0) throw new ValidationFailed('emoji', 'must not be empty');
  const codePoints = [...input].length;
  if (codePoints > MAX_UNICODE_EMOJI_CODE_POINTS) {
    throw new ValidationFailed('emoji', `a Unicode emoji has at most ${MAX_UNICODE_EMOJI_CODE_POINTS} code points`, {
      length: codePoints,
    });
  }
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f-\u009f]/.test(input) || hasLoneSurrogate(input)) {
    throw new ValidationFailed('emoji', 'must not contain whitespace or control characters');
  }
  // eslint-disable-next-line no-control-regex
  if (/^[\u0000-\u007f]+$/.test(input))
    throw new ValidationFailed('emoji', 'is neither a Unicode emoji nor a custom emoji (<:name:id> or name:id)');
  return { kind: 'unicode', name: input };
}

function custom(id: string, name: string, animated: boolean): ParsedEmoji {
  if (!isSnowflake(id)) throw new ValidationFailed('emoji', 'custom emoji id must be a snowflake');
  return { kind: 'custom', id: BigInt(id).toString(), name, animated };
}

/**
 * A stable key for uniqueness of reactions on a message: `u:<name>` for Unicode, `c:<id>` for custom
 * (the name and animation of a custom emoji do not matter: the id is the emoji).
 */
export function reactionKey(emoji: ParsedEmoji): string {
  return emoji.kind === 'unicode' ? `u:${emoji.name}` : `c:${emoji.id}`;
}
