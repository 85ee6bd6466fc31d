import type { EntityManager } from '@mikro-orm/postgresql';
import { assertMayUseEmoji, customEmojiIn, type LockedEmoji } from '../domain/messages';

/** A stored custom emoji with what the role lock needs, read for one user. */
export interface EmojiFacts extends LockedEmoji {
  serverId: string;
  /** The roles the user holds in the emoji's server (not the channel's: an emoji may be external). */
  heldRoleIds: string[];
}

/** A json column's value: the driver may hand back text or the parsed array. */
function roleIdsOf(value: unknown): string[] {
  const parsed: unknown = typeof value === 'string' ? JSON.parse(value) : value;
  return Array.isArray(parsed) ? parsed.map(String) : [];
}

/**
 * The emoji of these ids that exist, each with its server, its allowed roles and the roles `userId`
 * holds in that server, in one statement.
 */
export async function loadEmojiFacts(
  tx: EntityManager,
  userId: string,
  emojiIds: readonly string[],
): Promise<EmojiFacts[]> {
  const rows = await tx.execute<
    { id: string; name: string; serverId: string; roleIds: unknown; heldRoleIds: string[] }[]
  >(
    `select e."id"::text as "id", e."name", e."serverId"::text as "serverId", e."roles" as "roleIds",
            array(select mr."roleId"::text from "ServerMemberRole" mr where mr."serverId" = e."serverId"
              and mr."userId" = ?) as "heldRoleIds"
       from "Emoji" e where e."id" = any(array[?]::bigint[])`,
    [userId, [...emojiIds]],
  );
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    serverId: r.serverId,
    roleIds: roleIdsOf(r.roleIds),
    heldRoleIds: r.heldRoleIds.map(String),
  }));
}

/**
 * Refuses content that uses a role-locked custom emoji the author may not use (EmojiRoleLocked on
 * `content`). Content without custom emoji costs nothing; otherwise one read. Unknown ids stay text.
 */
export async function assertContentEmojiUsable(tx: EntityManager, authorId: string, content: string): Promise<void> {
  const used = customEmojiIn(content);
  if (used.length === 0) return;
  const facts = new Map(
    (
      await loadEmojiFacts(
        tx,
        authorId,
        used.map((e) => e.id),
      )
    ).map((f) => [f.id, f]),
  );
  // In the order the content uses them, so the error names the first locked one.
  for (const { id } of used) {
    const emoji = facts.get(id);
    if (emoji) assertMayUseEmoji(emoji, emoji.heldRoleIds, 'content');
  }
}
