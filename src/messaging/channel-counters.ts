import type { EntityManager } from '@mikro-orm/postgresql';
import { SlowmodeActive } from '../domain/errors';
import { SLOWMODE_BYPASS } from '../domain/messages';
import { Channel } from '../entities/channel/Channel';
import { snowflakeAt } from '../domain/snowflake';
import type { ChannelAccess } from '../entities/channel/ChannelAccess';
import { type SqlStatement, withLeading } from '../db/statements';

/**
 * The counters a channel keeps about its messages, changed with atomic statements so concurrent sends
 * and deletes never lose an update or move lastMessageId back. They bypass the entity on purpose: a
 * flushed `channel.lastMessageId = id` would be a blind overwrite.
 */

/** Takes the channel's row lock (pins, recipient changes: check-count-act under it). */
export async function lockChannelRow(tx: EntityManager, channelId: string): Promise<void> {
  await tx.execute('select 1 from "Channel" where "id" = ? for no key update', [channelId]);
}

/**
 * After a message is posted: lastMessageId moves forward; in a thread, the sender joins (once),
 * messageCount and memberCount follow, and an archived thread wakes up. `alongside` are INSERTs of
 * the same operation (its outbox rows, its analytics row) sent in the same statement: one round trip,
 * and the channel's row lock, which every send in the channel waits on, is taken by the last
 * statement before the commit. Returns whether the sender joined the thread now.
 */
export async function channelAfterPost(
  tx: EntityManager,
  channel: Channel,
  messageId: string,
  authorId: string,
  alongside: readonly SqlStatement[] = [],
): Promise<boolean> {
  if (!channel.isThread) {
    const update = {
      sql: 'update "Channel" set "lastMessageId" = greatest(coalesce("lastMessageId", 0), ?::bigint) where "id" = ?',
      params: [messageId, channel.id],
    };
    const { sql, params } = withLeading(alongside, update);
    await tx.execute(sql, params);
    return false;
  }
  const threadUpdate = {
    sql: `with joined as (
       insert into "ThreadMember" ("threadId", "userId") values (?, ?) on conflict do nothing returning 1
     ), before as (
       select "archived" from "Channel" where "id" = ?
     )
     update "Channel" set
       "lastMessageId" = greatest(coalesce("lastMessageId", 0), ?::bigint),
       "messageCount" = "messageCount" + 1,
       "memberCount" = "memberCount" + (select count(*) from joined),
       "archived" = false,
       "archiveTimestamp" = case when "archived" then now() else "archiveTimestamp" end
     where "id" = ?
     returning (select count(*) from joined) as "joined", (select "archived" from before) as "woke"`,
    params: [channel.id, authorId, channel.id, messageId, channel.id],
  };
  const { sql, params } = withLeading(alongside, threadUpdate);
  const [row] = await tx.execute<{ joined: string; woke: boolean }[]>(sql, params);
  const joined = Number(row?.joined ?? 0) > 0;
  if (joined) channel.threadMembersChanged([authorId], []);
  if (row?.woke) channel.threadUpdated({ archived: false });
  return joined;
}

/** Before messages are deleted: lastMessageId falls back to the newest survivor; a thread's count drops. */
export async function channelAfterDelete(
  tx: EntityManager,
  channel: Channel,
  messageIds: readonly string[],
): Promise<void> {
  await tx.execute(
    `update "Channel" set
       "lastMessageId" = case when "lastMessageId" = any(array[?]::bigint[])
         then (select max("id") from "Message" where "channelId" = ? and not ("id" = any(array[?]::bigint[])))
         else "lastMessageId" end,
       "messageCount" = case when "type" in ('PUBLIC_THREAD', 'PRIVATE_THREAD', 'ANNOUNCEMENT_THREAD')
         then greatest(0, "messageCount" - (select count(*) from "Message" where "channelId" = ?
           and "id" = any(array[?]::bigint[]) and "type" <> 'THREAD_STARTER'))
         else "messageCount" end
     where "id" = ?`,
    [[...messageIds], channel.id, [...messageIds], channel.id, [...messageIds], channel.id],
  );
}

/**
 * Slowmode, atomically: the user's lastSentAt moves to now only if the window since the last one
 * has passed, in one conditional upsert, so of two concurrent sends only one gets through.
 */
export async function takeSlowmodeSlot(tx: EntityManager, access: ChannelAccess): Promise<void> {
  const seconds = access.channel.rateLimitPerUser;
  if (seconds <= 0 || access.channel.isPrivate) return;
  if (SLOWMODE_BYPASS.some((flag) => (access.permissions & flag) === flag)) return;
  const taken = await tx.execute(
    `insert into "ReadState" ("userId", "channelId", "lastSentAt") values (?, ?, now())
     on conflict ("userId", "channelId") do update set "lastSentAt" = excluded."lastSentAt"
     where "ReadState"."lastSentAt" is null or "ReadState"."lastSentAt" <= excluded."lastSentAt" - make_interval(secs =>
       ?)
     returning 1`,
    [access.userId, access.channel.id, seconds],
  );
  if (taken.length > 0) return;
  const [row] = await tx.execute<{ wait: string }[]>(
    `select greatest(0, ceil(extract(epoch from ("lastSentAt" + make_interval(secs => ?) - now())) * 1000)) as "wait"
       from "ReadState" where "userId" = ? and "channelId" = ?`,
    [seconds, access.userId, access.channel.id],
  );
  throw new SlowmodeActive(access.channel.id, Number(row?.wait ?? seconds * 1000));
}

/**
 * A ban's message purge: deletes the user's messages in the server's channels (threads included)
 * sent in the last `seconds`, fixes each channel's lastMessageId and thread counts in the same
 * statement, and records MESSAGE_DELETE_BULK per channel. Returns how many messages went.
 */
export async function purgeRecentMessages(
  tx: EntityManager,
  serverId: string,
  userId: string,
  seconds: number,
): Promise<number> {
  if (seconds <= 0) return 0;
  const since = snowflakeAt(new Date(Date.now() - seconds * 1000));
  const rows = await tx.execute<{ id: string; ids: string[] }[]>(
    `with deleted as (
       delete from "Message" where "serverId" = ? and "authorId" = ? and "id" >= ?::bigint returning "id", "channelId",
         "type"
     ), per_channel as (
       select "channelId", array_agg("id") as ids, count(*) filter (where "type" <> 'THREAD_STARTER') as n from deleted
         group by "channelId"
     )
     update "Channel" c set
       "lastMessageId" = case when c."lastMessageId" = any(p.ids)
         then (select max(m."id") from "Message" m where m."channelId" = c."id" and not (m."id" = any(p.ids)))
         else c."lastMessageId" end,
       "messageCount" = case when c."type" in ('PUBLIC_THREAD', 'PRIVATE_THREAD', 'ANNOUNCEMENT_THREAD')
         then greatest(0, c."messageCount" - p.n) else c."messageCount" end
     from per_channel p where c."id" = p."channelId"
     returning c."id", p.ids::text[] as ids`,
    [serverId, userId, since],
  );
  if (rows.length === 0) return 0;
  const channels = await tx.find(Channel, { id: { $in: rows.map((r) => String(r.id)) } });
  for (const channel of channels) channel.messagesDeleted(rows.find((r) => String(r.id) === channel.id)!.ids);
  return rows.reduce((n, r) => n + r.ids.length, 0);
}
