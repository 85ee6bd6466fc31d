import type { EntityManager } from '@mikro-orm/postgresql';
import { ValidationFailed } from '../domain/errors';
import { PermissionFlags } from '../domain/permissions';
import { validateIntegerIn } from '../domain/servers';
import { Channel, THREAD_CHANNEL_TYPES } from '../entities/channel/Channel';
import { loadChannelAccess } from '../entities/channel/ChannelAccess';
import { ThreadMember } from '../entities/channel/ThreadMember';
import { loadServerAccess } from '../entities/server/ServerAccess';

/** Thread listings: reads that check what the viewer may see (ThreadService's activeThreads and archivedThreads). */

/** The unarchived threads of a server the viewer can see (NotAMember for a stranger), newest first. */
export async function activeThreads(em: EntityManager, viewerId: string, serverId: string): Promise<Channel[]> {
  const access = await loadServerAccess(em, serverId, viewerId);
  const threads = await em.find(
    Channel,
    { server: serverId, type: { $in: [...THREAD_CHANNEL_TYPES] }, archived: false },
    { orderBy: { id: 'desc' } },
  );
  if (threads.length === 0) return [];
  const parentIds = [...new Set(threads.flatMap((t) => (t.parent ? [t.parent.id] : [])))];
  const parents = new Map(
    (
      await em.find(Channel, { id: { $in: parentIds.length > 0 ? parentIds : ['0'] } }, { populate: ['overwrites'] })
    ).map((p) => [p.id, p]),
  );
  const joined = new Set(
    (await em.find(ThreadMember, { user: viewerId, thread: { $in: threads.map((t) => t.id) } })).map(
      (m) => m.thread.id,
    ),
  );
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
export async function archivedThreads(
  em: EntityManager,
  viewerId: string,
  parentId: string,
  options: ArchivedThreadsOptions = {},
): Promise<Channel[]> {
  if (typeof options !== 'object' || options === null) throw new ValidationFailed('options', 'must be an object');
  const limit = options.limit === undefined ? 50 : validateIntegerIn('limit', options.limit, 1, 100);
  const before = options.before;
  if (before !== undefined && (!(before instanceof Date) || Number.isNaN(before.getTime())))
    throw new ValidationFailed('before', 'must be a valid date');
  const access = await loadChannelAccess(em, parentId, viewerId);
  access.require(['VIEW_CHANNEL', 'READ_MESSAGE_HISTORY']);
  const rows = await em.execute<{ id: string }[]>(
    `select c."id"::text as "id" from "Channel" c
      where c."parentId" = ? and c."archived" and c."type" in ('PUBLIC_THREAD', 'PRIVATE_THREAD', 'ANNOUNCEMENT_THREAD')
        and (c."type" <> 'PRIVATE_THREAD' or ?::boolean
             or exists (select 1 from "ThreadMember" m where m."threadId" = c."id" and m."userId" = ?))
        and (?::timestamptz is null or c."archiveTimestamp" < ?::timestamptz)
      order by c."archiveTimestamp" desc, c."id" desc limit ?`,
    [
      parentId,
      access.has('MANAGE_THREADS'),
      viewerId,
      before?.toISOString() ?? null,
      before?.toISOString() ?? null,
      limit,
    ],
  );
  if (rows.length === 0) return [];
  const order = rows.map((row) => String(row.id));
  const found = new Map((await em.find(Channel, { id: { $in: order } })).map((c) => [c.id, c]));
  return order.flatMap((id) => (found.has(id) ? [found.get(id)!] : []));
}
