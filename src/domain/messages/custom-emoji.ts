/** Custom emoji in message content, and who may use a role-locked one (Discord's emoji `roles`). */
import { EmojiRoleLocked } from '../errors';
import { isSnowflake } from '../snowflake';
import { stripCode } from './mentions';

/** `<:name:id>` (static) or `<a:name:id>` (animated), as Discord writes custom emoji in content. */
const CUSTOM_EMOJI = /<a?:([A-Za-z0-9_]{2,32}):([0-9]{1,20})>/g;

/**
 * The custom emoji a message's content uses, deduplicated by id (canonical, no leading zeros), in
 * first-seen order. Emoji inside code or escaped (`\<:x:1>`) are text, as Discord renders them; an id
 * that is not a snowflake is text too.
 */
export function customEmojiIn(content: string): { id: string; name: string }[] {
  if (!content.includes('<')) return [];
  const seen = new Map<string, string>();
  for (const m of stripCode(content).matchAll(CUSTOM_EMOJI)) {
    const [, name, rawId] = m;
    if (!isSnowflake(rawId)) continue;
    const id = BigInt(rawId).toString();
    if (!seen.has(id)) seen.set(id, name);
  }
  return [...seen].map(([id, name]) => ({ id, name }));
}

/** What the rule needs of a stored emoji: its allowed roles ([] = every member of its server). */
export interface LockedEmoji {
  id: string;
  name: string;
  roleIds: readonly string[];
}

/**
 * An emoji with roles is usable only by a user who holds one of them in the emoji's server; managed
 * roles (integrations) count like any other, and the owner and administrators are no exception (the
 * roles are the whole rule). An emoji without roles is usable by everyone who may use it at all.
 */
export function mayUseEmoji(emoji: LockedEmoji, heldRoleIds: readonly string[]): boolean {
  return emoji.roleIds.length === 0 || emoji.roleIds.some((id) => heldRoleIds.includes(id));
}

/** Refuses with EmojiRoleLocked unless `mayUseEmoji`. */
export function assertMayUseEmoji(
  emoji: LockedEmoji,
  heldRoleIds: readonly string[],
  field: 'emoji' | 'content',
): void {
  if (!mayUseEmoji(emoji, heldRoleIds)) throw new EmojiRoleLocked(emoji.id, emoji.name, field);
}
