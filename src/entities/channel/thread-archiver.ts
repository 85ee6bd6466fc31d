import type { EntityManager } from '@mikro-orm/postgresql';
import { ValidationFailed } from '../../domain/errors';
import { PermissionFlags } from '../../domain/permissions';
import { validateIntegerIn } from '../../domain/servers';
import { CRYB_EPOCH_MS } from '../../domain/snowflake';
import { transact } from '../../db/unit-of-work';
import { loadServerAccess } from '../server/ServerAccess';
import { Channel, THREAD_CHANNEL_TYPES } from './Channel';
import { loadChannelAccess } from './ChannelAccess';
import { ThreadMember } from './ThreadMember';

/**
 * A thread's last activity: the latest of its creation, its last (un)archiving and its last message
 * (the snowflake's timestamp, so no per-send write is needed to track it).
 */
const LAST_ACTIVITY = `greatest("createdAt", coalesce("archiveTimestamp", '-infinity'),
  coalesce(to_timestamp((("lastMessageId" >> 22) + ${CRYB_EPOCH_MS}) / 1000.0), '-infinity'))`;

/** Unarchived threads inactive for at least their duration at `now` (an SQL timestamptz expression). */
export function inactiveThreadCondition(now: string): string {
  // The first two terms are the partial index's predicate, so the planner can scan "Channel_active_threads_index".
  return `"autoArchiveDuration" is not null and "archived" = false and ${LAST_ACTIVITY} <= ${now} - make_interval(mins => "autoArchiveDuration")`;
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

/** The unarchived threads of a server the viewer can see (NotAMember for a stranger), newest first. */
export async function activeThreads(em: EntityManager, viewerId: string, serverId: string): Promise<Channel[]> {
  const access = await loadServerAccess(em, serverId, viewerId);
  const threads = await em.find(Channel, { server: serverId, type: { $in: [...THREAD_CHANNEL_TYPES] }, archived: false }, { orderBy: { id: 'desc' } });
  if (threads.length === 0) return [];
  const parentIds = [...new Set(threads.flatMap((t) => (t.parent ? [t.parent.id] : [])))];
  const parents = new Map((await em.find(Channel, { id: { $in: parentIds.length > 0 ? parentIds : ['0'] } }, { populate: ['overwrites'] })).map((p) => [p.id, p]));
  const joined = new Set((await em.find(ThreadMember, { user: viewerId, thread: { $in: threads.map((t) => t.id) } })).map((m) => m.thread.id));
  return threads.filter((thread) => {
    const parent = thread.parent ? parents.get(thread.parent.id) : undefined;
    if (!parent) return false;
    const permissions = access.permissions(thread, { overwritesFrom: parent, member: joined.has(thread.id) });
    return (permissions & PermissionFlags.VIEW_CHANNEL) !== 0n;
  });
}

export interface ArchivedThreadsOptions {
  /** Only threads archived before this moment (a cursor: the archiveTimestamp of the last one seen). */
  before?: Date;
  /** 1-100, default 50. */
  limit?: number;
}

/**
 * Archived threads of a channel, most recently archived first. Needs VIEW_CHANNEL and
 * READ_MESSAGE_HISTORY there; private threads are listed to their members and to MANAGE_THREADS.
 */
export async function archivedThreads(em: EntityManager, viewerId: string, parentId: string, options: ArchivedThreadsOptions = {}): Promise<Channel[]> {
  if (typeof options !== 'object' || options === null) throw new ValidationFailed('options', 'must be an object');
  const limit = options.limit === undefined ? 50 : validateIntegerIn('limit', options.limit, 1, 100);
  const before = options.before;
  if (before !== undefined && (!(before instanceof Date) || Number.isNaN(before.getTime()))) throw new ValidationFailed('before', 'must be a valid date');
  const access = await loadChannelAccess(em, parentId, viewerId);
  access.require(['VIEW_CHANNEL', 'READ_MESSAGE_HISTORY']);
  const rows = await em.execute<{ id: string }[]>(
    `select c."id"::text as "id" from "Channel" c
      where c."parentId" = ? and c."archived" and c."type" in ('PUBLIC_THREAD', 'PRIVATE_THREAD', 'ANNOUNCEMENT_THREAD')
        and (c."type" <> 'PRIVATE_THREAD' or ?::boolean
             or exists (select 1 from "ThreadMember" m where m."threadId" = c."id" and m."userId" = ?))
        and (?::timestamptz is null or c."archiveTimestamp" < ?::timestamptz)
      order by c."archiveTimestamp" desc, c."id" desc limit ?`,
    [parentId, access.has('MANAGE_THREADS'), viewerId, before?.toISOString() ?? null, before?.toISOString() ?? null, limit],
  );
  if (rows.length === 0) return [];
  const order = rows.map((row) => String(row.id));
  const found = new Map((await em.find(Channel, { id: { $in: order } })).map((c) => [c.id, c]));
  return order.flatMap((id) => (found.has(id) ? [found.get(id)!] : []));
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
