import type { EntityManager } from '@mikro-orm/postgresql';
import { NotFound } from '../domain/errors';
import { idArg, type IdArg } from '../domain/identity/ids';
import { channelKindOf, computeEffectivePermissions, isTimedOut, PermissionFlags } from '../domain/permissions';
import { transact } from '../db/unit-of-work';
import { loadChannelAccess } from '../entities/channel/ChannelAccess';

/** Whether message m mentions the user: directly (?), through @everyone, or through one of their roles (?). */
const MENTIONS_USER_SQL = `? = any(m."mentionUserIds") or m."mentionEveryone"
                 or m."mentionRoleIds" && array[?]::bigint[]`;
/** Read states: acks, and unread and mention counts. */
export class ReadStateService {
  constructor(private readonly em: EntityManager) {}

  /**
   * Marks `channel` read up to `messageId` (a message of that channel) for `user`, and recounts the
   * mentions of them after it. The recount runs after the row lock is taken, so a concurrent send
   * that raised the count either committed first (and is counted) or raises it afterwards.
   */
  async ack(user: IdArg, channel: IdArg, messageId: IdArg): Promise<void> {
    const userId = idArg(user, 'user');
    const channelId = idArg(channel, 'channel');
    const ackId = idArg(messageId, 'messageId');
    await transact(this.em, async (tx) => {
      const access = await loadChannelAccess(tx, channelId, userId, { textOnly: true });
      access.require('VIEW_CHANNEL');
      // One statement checks the message and takes the read state's row lock (inserting the row
      // when it is the first ack): the recount below then starts after the lock, with a fresh snapshot.
      const locked = await tx.execute(
        `insert into "ReadState" ("userId", "channelId")
         select ?, ? where exists (select 1 from "Message" where "id" = ? and "channelId" = ?)
         on conflict ("userId", "channelId") do update set "userId" = excluded."userId"
         returning 1`,
        [userId, channelId, ackId, channelId],
      );
      if (locked.length === 0) throw new NotFound('Message', ackId);
      const roleIds = access.server ? access.server.roles.map((r) => r.id) : [];
      await tx.execute(
        `update "ReadState" set "lastReadMessageId" = ?::bigint, "mentionCount" = (
           select count(*) from "Message" m
            where m."channelId" = ? and m."id" > ?::bigint and m."authorId" <> ?
              and (${access.channel.isPrivate ? 'true' : MENTIONS_USER_SQL}))
         where "userId" = ? and "channelId" = ?`,
        access.channel.isPrivate
          ? [ackId, channelId, ackId, userId, userId, channelId]
          : [ackId, channelId, ackId, userId, userId, roleIds.length ? roleIds : ['0'], userId, channelId],
      );
    });
  }

  /**
   * Unread flags and mention counts of every channel the user can see, across all their servers and
   * DMs, in one query: each row carries what the permission function needs (member roles, role
   * permissions, the governing overwrites), and visibility is computed with the package's own
   * `computeEffectivePermissions`. Threads count when the user has joined them.
   */
  async unreadSummary(user: IdArg): Promise<UnreadSummary> {
    const userId = idArg(user, 'user');
    const rows = await this.em
      .getConnection('read')
      .execute<UnreadRow[]>(UNREAD_SQL, [userId, userId, userId, userId, userId]);
    const channels: ChannelUnread[] = [];
    for (const row of rows) {
      if (row.serverId !== null && !canView(row, userId)) continue;
      const lastMessageId = row.lastMessageId === null ? null : String(row.lastMessageId);
      const lastReadMessageId = row.lastReadMessageId === null ? null : String(row.lastReadMessageId);
      const unread =
        lastMessageId !== null &&
        String(row.lastAuthorId) !== userId &&
        (lastReadMessageId === null || BigInt(lastMessageId) > BigInt(lastReadMessageId));
      channels.push({
        channelId: String(row.id),
        serverId: row.serverId === null ? null : String(row.serverId),
        lastMessageId,
        lastReadMessageId,
        unread,
        mentionCount: Number(row.mentionCount),
      });
    }
    const servers = new Map<string, { serverId: string; unreadChannels: number; mentionCount: number }>();
    for (const c of channels) {
      if (c.serverId === null) continue;
      const s = servers.get(c.serverId) ?? { serverId: c.serverId, unreadChannels: 0, mentionCount: 0 };
      if (c.unread) s.unreadChannels++;
      s.mentionCount += c.mentionCount;
      servers.set(c.serverId, s);
    }
    return {
      servers: [...servers.values()],
      directMessages: channels.filter((c) => c.serverId === null && c.unread),
      channels,
    };
  }
}

interface UnreadRow {
  id: string;
  serverId: string | null;
  type: string;
  lastMessageId: string | null;
  lastAuthorId: string | null;
  lastReadMessageId: string | null;
  mentionCount: number;
  ownerId: string | null;
  roleIds: string[] | null;
  timedOutUntil: string | Date | null;
  threadMember: boolean;
  overwrites: [string, string, string, string][] | null;
  roles: Record<string, string> | null;
}

const THREAD_TYPES = `('PUBLIC_THREAD', 'PRIVATE_THREAD', 'ANNOUNCEMENT_THREAD')`;
const UNREAD_SQL = `
with member as (
  select sm."serverId", sm."timedOutUntil", s."ownerId",
         coalesce((select array_agg(mr."roleId") from "ServerMemberRole" mr where mr."serverId" = sm."serverId"
           and mr."userId" = sm."userId"), '{}') as "roleIds"
    from "ServerMember" sm join "Server" s on s."id" = sm."serverId"
   where sm."userId" = ?
), visible as (
  select c.*, m."ownerId" as "serverOwnerId", m."roleIds", m."timedOutUntil",
         exists (select 1 from "ThreadMember" t where t."threadId" = c."id" and t."userId" = ?) as "threadMember"
    from member m join "Channel" c on c."serverId" = m."serverId"
   where c."type" in ('GUILD_TEXT', 'GUILD_ANNOUNCEMENT', 'GUILD_VOICE', 'GUILD_STAGE_VOICE', 'PUBLIC_THREAD',
     'PRIVATE_THREAD', 'ANNOUNCEMENT_THREAD')
  union all
  select c.*, null, null, null, false
    from "ChannelRecipient" r join "Channel" c on c."id" = r."channelId"
   where r."userId" = ?
)
select v."id", v."serverId", v."type", v."lastMessageId", lm."authorId" as "lastAuthorId",
       rs."lastReadMessageId", coalesce(rs."mentionCount", 0) as "mentionCount",
       v."serverOwnerId" as "ownerId", v."roleIds", v."timedOutUntil", v."threadMember",
       (select json_agg(json_build_array(o."targetId"::text, o."type", o."allow"::text, o."deny"::text))
         from "PermissionOverwrite" o
         where o."channelId" = case when v."type" in ${THREAD_TYPES} then v."parentId" else v."id" end) as "overwrites",
       (select json_object_agg(r."id"::text, r."permissions"::text) from "Role" r
         where r."serverId" = v."serverId" and (r."id" = v."serverId" or r."id" = any(v."roleIds"))) as "roles"
  from visible v
  left join "ReadState" rs on rs."channelId" = v."id" and rs."userId" = ?
  left join "Message" lm on lm."id" = v."lastMessageId"
 where not (v."type" in ${THREAD_TYPES}) or v."threadMember"`;

function canView(row: UnreadRow, userId: string): boolean {
  const roles = row.roles ?? {};
  const serverId = String(row.serverId);
  const permissions = computeEffectivePermissions(
    {
      serverId,
      ownerId: String(row.ownerId),
      memberId: userId,
      everyone: BigInt(roles[serverId] ?? '0'),
      roles: (row.roleIds ?? [])
        .map(String)
        .filter((id) => id in roles)
        .map((id) => ({ id, permissions: BigInt(roles[id]) })),
      overwrites: (row.overwrites ?? []).map(([id, type, allow, deny]) => ({
        id,
        type: type === 'ROLE' ? ('role' as const) : ('member' as const),
        allow: BigInt(allow),
        deny: BigInt(deny),
      })),
    },
    {
      channelType: channelKindOf(row.type),
      privateThread: row.type === 'PRIVATE_THREAD',
      threadMember: row.threadMember,
      // Raw rows carry timestamps as text (the ORM's pg type parsers), not Dates.
      timedOut: isTimedOut(row.timedOutUntil === null ? null : new Date(row.timedOutUntil)),
    },
  );
  return (permissions & PermissionFlags.VIEW_CHANNEL) !== 0n;
}

/** Unread state of one channel for one user. */
export interface ChannelUnread {
  channelId: string;
  serverId: string | null;
  lastMessageId: string | null;
  lastReadMessageId: string | null;
  /** A message by someone else arrived after the last ack. */
  unread: boolean;
  mentionCount: number;
}

export interface UnreadSummary {
  /** Per server the user belongs to: channels with unread messages and mentions in total. */
  servers: { serverId: string; unreadChannels: number; mentionCount: number }[];
  /** DMs and group DMs with unread messages. */
  directMessages: ChannelUnread[];
  /** Every viewable channel (server text channels, joined threads, DMs) with its state. */
  channels: ChannelUnread[];
}
