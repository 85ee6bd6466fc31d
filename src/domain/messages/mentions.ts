/** Mentions in message content: who a message pings, and what the author needs to ping them. */
import { PermissionFlags } from '../permissions';
import { isSnowflake } from '../snowflake';

export interface ParsedMentions {
  /** From `<@id>` and `<@!id>`, deduplicated, in first-seen order. */
  users: string[];
  /** From `<@&id>`. */
  roles: string[];
  /** From `<#id>`. */
  channels: string[];
  /** `@everyone` appears outside code. */
  everyone: boolean;
  /** `@here` appears outside code. */
  here: boolean;
}

/**
 * Replaces code (```blocks``` and `inline` / ``inline`` spans) and backslash-escaped characters with
 * spaces, so nothing inside them can form a mention and nothing can join across them. Linear time.
 *
 * Markdown as Discord reads it (simple-markdown):
 * - `\` followed by a character that is not a letter, digit or whitespace escapes it (`\@everyone`,
 *   `\<@1>` and `` \` `` are literal). Escapes do not apply inside code.
 * - A run of 3+ backticks opens a code block closed by the next ``` after its first three backticks.
 * - Otherwise a run of N backticks opens inline code closed by the next run of exactly N backticks.
 * - An opener without a closer is plain text.
 */
export function stripCode(content: string): string {
  const n = content.length;
  // Every backtick run: start and length. Runs of one length, in order, for "next run of exactly N".
  const runsByLength = new Map<number, number[]>();
  for (let i = 0; i < n;) {
    if (content.charCodeAt(i) !== 0x60) {
      i++;
      continue;
    }
    let j = i;
    while (j < n && content.charCodeAt(j) === 0x60) j++;
    const len = j - i;
    let list = runsByLength.get(len);
    if (!list) runsByLength.set(len, (list = []));
    list.push(i);
    i = j;
  }
  const nextRunOfLength = (len: number, from: number): number => {
    const list = runsByLength.get(len);
    if (!list) return -1;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid] < from) lo = mid + 1;
      else hi = mid;
    }
    return lo < list.length ? list[lo] : -1;
  };

  let out = '';
  let noFenceAfter = Number.POSITIVE_INFINITY; // indexOf('```', x) is -1 for every x >= this
  let i = 0;
  let plainStart = 0;
  const blank = (from: number, to: number) => {
    out += content.slice(plainStart, from) + ' '.repeat(Math.min(to - from, 1));
    plainStart = to;
  };
  while (i < n) {
    const c = content.charCodeAt(i);
    if (c === 0x5c /* \ */ && i + 1 < n && !/[0-9A-Za-z\s]/.test(content[i + 1])) {
      blank(i, i + 2);
      i += 2;
      continue;
    }
    if (c !== 0x60) {
      i++;
      continue;
    }
    let j = i;
    while (j < n && content.charCodeAt(j) === 0x60) j++;
    const len = j - i;
    if (len >= 3 && i + 3 < noFenceAfter) {
      const close = content.indexOf('```', i + 3);
      if (close >= 0) {
        blank(i, close + 3);
        i = close + 3;
        continue;
      }
      noFenceAfter = i + 3;
    }
    const close = nextRunOfLength(len, j);
    if (close >= 0) {
      blank(i, close + len);
      i = close + len;
      continue;
    }
    i = j; // an opener without a closer: literal backticks
  }
  return out + content.slice(plainStart);
}

const MENTION = /<@!?([0-9]+)>|<@&([0-9]+)>|<#([0-9]+)>|@(everyone|here)/g;

/**
 * The mentions of `content`, outside code and escapes. Ids are kept only when they are valid
 * snowflakes (`isSnowflake`), in canonical decimal form (no leading zeros), deduplicated in first-seen
 * order. `@everyone` / `@here` count wherever they appear as text (as Discord, even inside a word:
 * `x@everyone`). Never throws for a string; a non-string yields no mentions.
 */
export function parseMentions(content: unknown): ParsedMentions {
  const result: ParsedMentions = { users: [], roles: [], channels: [], everyone: false, here: false };
  if (typeof content !== 'string' || content.length === 0) return result;
  const seen = { users: new Set<string>(), roles: new Set<string>(), channels: new Set<string>() };
  const add = (kind: 'users' | 'roles' | 'channels', raw: string) => {
    if (!isSnowflake(raw)) return;
    const id = BigInt(raw).toString();
    if (seen[kind].has(id)) return;
    seen[kind].add(id);
    result[kind].push(id);
  };
  for (const m of stripCode(content).matchAll(MENTION)) {
    if (m[1] !== undefined) add('users', m[1]);
    else if (m[2] !== undefined) add('roles', m[2]);
    else if (m[3] !== undefined) add('channels', m[3]);
    else if (m[4] === 'everyone') result.everyone = true;
    else result.here = true;
  }
  return result;
}

export interface MentionPermissionOptions {
  /**
   * Whether a role may be mentioned by anyone (Discord's `mentionable`). Mentioning a role for which
   * this returns false needs MENTION_EVERYONE. Omitted: role mentions need nothing.
   */
  isRoleMentionable?: (roleId: string) => boolean;
}

/**
 * The permission bits the author needs for these mentions: MENTION_EVERYONE for `@everyone` or
 * `@here` (and for a non-mentionable role when `isRoleMentionable` says so); 0n otherwise. User and
 * channel mentions need nothing.
 *
 * As in Discord, the caller may also choose to send the message anyway and just not ping; this
 * function only says what pinging requires.
 */
export function requiredPermissionsForMentions(
  mentions: Pick<ParsedMentions, 'everyone' | 'here'> & Partial<Pick<ParsedMentions, 'roles'>>,
  options: MentionPermissionOptions = {},
): bigint {
  let bits = 0n;
  if (mentions.everyone || mentions.here) bits |= PermissionFlags.MENTION_EVERYONE;
  const mentionable = options.isRoleMentionable;
  if (mentionable && (mentions.roles ?? []).some((id) => !mentionable(id))) bits |= PermissionFlags.MENTION_EVERYONE;
  return bits;
}
