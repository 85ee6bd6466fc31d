import { EntityRepository, type EntityManager } from '@mikro-orm/postgresql';
import type { Reaction } from './Reaction';

/** One emoji's tally on a message, as history returns it. */
export interface ReactionCount {
  emoji: { id: string | null; name: string; animated: boolean };
  count: number;
  /** The viewer reacted with it. */
  me: boolean;
}

/** Queries on reactions; reacting and removing reactions are ReactionService's (src/messaging). */
export class ReactionRepository extends EntityRepository<Reaction> {
  /**
   * Reaction tallies of several messages in one query, in first-reaction order, with the viewer's own.
   * No permission check: for callers that already established read access (history does its own).
   */
  async countsFor(
    messageIds: readonly string[],
    viewerId: string | null = null,
    em: EntityManager = this.em,
  ): Promise<Map<string, ReactionCount[]>> {
    const out = new Map<string, ReactionCount[]>();
    if (messageIds.length === 0) return out;
    const rows = await em.execute<
      {
        messageId: string;
        emojiId: string | null;
        emojiName: string;
        emojiAnimated: boolean;
        count: string;
        me: boolean;
      }[]
    >(
      `select "messageId", "emojiKey", min("emojiId") as "emojiId", min("emojiName") as "emojiName",
        bool_or("emojiAnimated") as "emojiAnimated",
              count(*) as "count", coalesce(bool_or("userId" = ?), false) as "me"
         from "Reaction" where "messageId" = any(array[?]::bigint[])
        group by "messageId", "emojiKey" order by "messageId", min("createdAt")`,
      [viewerId ?? '0', [...messageIds]],
    );
    for (const r of rows) {
      const list = out.get(String(r.messageId)) ?? [];
      list.push({
        emoji: { id: r.emojiId === null ? null : String(r.emojiId), name: r.emojiName, animated: r.emojiAnimated },
        count: Number(r.count),
        me: r.me,
      });
      out.set(String(r.messageId), list);
    }
    return out;
  }
}
