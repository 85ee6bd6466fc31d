import type { EntityManager } from '@mikro-orm/postgresql';
import { ValidationFailed } from '../../domain/errors';
import { CRYB_EPOCH_MS } from '../../domain/snowflake';
import { transact } from '../../db/unit-of-work';
import { Channel } from './Channel';

/**
 * A thread's last activity: the latest of its creation, its last (un)archiving and its last message
 * (the snowflake's timestamp, so no per-send write is needed to track it).
 */
const LAST_ACTIVITY = `greatest("createdAt", coalesce("archiveTimestamp", '-infinity'),
  coalesce(to_timestamp((("lastMessageId" >> 22) + ${CRYB_EPOCH_MS}) / 1000.0), '-infinity'))`;

/** Unarchived threads inactive for at least their duration at `now` (an SQL timestamptz expression). */
export function inactiveThreadCondition(now: string): string {
  // The first two terms are the partial index's predicate, so the planner can scan "Channel_active_threads_index".
  return (
    `"autoArchiveDuration" is not null and "archived" = false and ${LAST_ACTIVITY} <= ${now} - ` +
    `make_interval(mins => "autoArchiveDuration")`
  );
}

/**
 * Archives every unarchived thread inactive for at least its autoArchiveDuration at `now`, in one
 * set-based statement over the active-threads partial index, and records THREAD_UPDATE for each in
 * the same transaction. For a scheduler: safe to run often and from several workers at once (a
 * concurrent run or a send that wakes a thread is re-checked by the row's WHERE, so each thread is
 * archived, and announced, once). Returns the ids of the threads it archived.
 */
export async function archiveInactiveThreads(em: EntityManager, now: Date = new Date()): Promise<string[]> {
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new ValidationFailed('now', 'must be a valid date');
  const at = now.toISOString();
  return transact(em, async (tx) => {
    const rows = await tx.execute<{ id: string }[]>(
      `update "Channel" set "archived" = true, "archiveTimestamp" = ?::timestamptz
       where ${inactiveThreadCondition('?::timestamptz')}
       returning "id"::text as "id"`,
      [at, at],
    );
    const ids = rows.map((row) => String(row.id));
    if (ids.length === 0) return [];
    const threads = await tx.find(Channel, { id: { $in: ids } }, { refresh: true, orderBy: { id: 'asc' } });
    for (const thread of threads) thread.threadUpdated();
    return threads.map((thread) => thread.id);
  });
}

/**
 * A member leaving a server (leave, kick, ban) leaves its threads too: their ThreadMember rows go and
 * each thread's memberCount drops by one, in one statement.
 */
export async function leaveThreadsOfServer(tx: EntityManager, serverId: string, userId: string): Promise<void> {
  await tx.execute(
    `with removed as (
       delete from "ThreadMember" t using "Channel" c
        where c."id" = t."threadId" and c."serverId" = ? and t."userId" = ?
       returning t."threadId"
     )
     update "Channel" c set "memberCount" = c."memberCount" - 1 from removed r where c."id" = r."threadId"`,
    [serverId, userId],
  );
}
