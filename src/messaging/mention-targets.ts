import type { EntityManager } from '@mikro-orm/postgresql';
import type { SqlStatement } from '../db/statements';
import { type ParsedMentions } from '../domain/messages';
import { computeEffectivePermissions, isTimedOut, PermissionFlags } from '../domain/permissions';
import { CHANNEL_TYPE_NUMBERS, ChannelType } from '../entities/channel/Channel';
import { channelKindOf } from '../domain/permissions';
import type { ChannelAccess } from '../entities/channel/ChannelAccess';

/** Who a message pings, resolved: the ids stored on the message, and who gets a mention counted. */
export interface ResolvedMentions {
  userIds: string[];
  roleIds: string[];
  everyone: boolean;
  /** Users whose mentionCount in the channel goes up (never the author; only those who can view it). */
  notify: string[];
}

interface Candidate {
  userId: string;
  timedOutUntil: string | Date | null;
  roleIds: string[];
  online: boolean;
}

const NOTHING: ResolvedMentions = { userIds: [], roleIds: [], everyone: false, notify: [] };

/**
 * Resolves the mentions of a message against the channel: users who are in it, roles of its server
 * that are mentionable (or any role, for an author with MENTION_EVERYONE), and @everyone / @here only
 * with MENTION_EVERYONE, as Discord does (the message is still sent; it just pings no one). Pinged
 * users are those who can view the channel, computed with the package's permission function.
 * In a DM or group DM every other recipient is notified of every message.
 */
export async function resolveMentions(
  tx: EntityManager,
  access: ChannelAccess,
  mentions: ParsedMentions,
  authorId: string,
): Promise<ResolvedMentions> {
  const channel = access.channel;
  if (channel.isPrivate) {
    const recipients = new Set(access.recipientIds);
    return {
      userIds: mentions.users.filter((id) => recipients.has(id)),
      roleIds: [],
      everyone: false,
      notify: [...recipients].filter((id) => id !== authorId),
    };
  }
  const server = access.server!;
  const mayPingEveryone = access.has('MENTION_EVERYONE');
  const everyone = (mentions.everyone || mentions.here) && mayPingEveryone;
  if (mentions.users.length === 0 && mentions.roles.length === 0 && !everyone) return NOTHING;

  const roles = await tx.execute<{ id: string; permissions: string; mentionable: boolean }[]>(
    'select "id", "permissions", "mentionable" from "Role" where "serverId" = ?',
    [server.server.id],
  );
  const rolePermissions = new Map(roles.map((r) => [String(r.id), BigInt(r.permissions)]));
  const roleIds = mentions.roles.filter(
    (id) =>
      id !== server.server.id &&
      rolePermissions.has(id) &&
      (mayPingEveryone || roles.find((r) => String(r.id) === id)!.mentionable),
  );

  const candidates = await tx.execute<Candidate[]>(
    `select sm."userId", sm."timedOutUntil",
            coalesce(array_agg(mr."roleId") filter (where mr."roleId" is not null), '{}') as "roleIds",
            coalesce(p."status", 'OFFLINE') <> 'OFFLINE' as "online"
       from "ServerMember" sm
       left join "ServerMemberRole" mr on mr."serverId" = sm."serverId" and mr."userId" = sm."userId"
       left join "UserPresence" p on p."userId" = sm."userId"
      where sm."serverId" = ?
        and (? or sm."userId" = any(array[?]::bigint[])
             or exists (select 1 from "ServerMemberRole" r where r."serverId" = sm."serverId"
               and r."userId" = sm."userId" and r."roleId" = any(array[?]::bigint[])))
      group by sm."userId", sm."timedOutUntil", p."status"`,
    [server.server.id, everyone, mentions.users.length ? mentions.users : ['0'], roleIds.length ? roleIds : ['0']],
  );

  const threadMembers =
    channel.type === ChannelType.PRIVATE_THREAD ? await memberIdsOfThread(tx, channel.id) : new Set<string>();
  const overwrites = access.governing.overwrites.getItems().map((o) => o.toInput());
  const kind = channelKindOf(CHANNEL_TYPE_NUMBERS[channel.type]);
  const canView = (c: Candidate) => {
    const ids = c.roleIds.map(String);
    const permissions = computeEffectivePermissions(
      {
        serverId: server.server.id,
        ownerId: server.server.owner.id,
        memberId: String(c.userId),
        everyone: rolePermissions.get(server.server.id) ?? 0n,
        roles: ids.filter((id) => rolePermissions.has(id)).map((id) => ({ id, permissions: rolePermissions.get(id)! })),
        overwrites,
      },
      {
        channelType: kind,
        privateThread: channel.type === ChannelType.PRIVATE_THREAD,
        threadMember: threadMembers.has(String(c.userId)),
        // Raw rows carry timestamps as text (the ORM's pg type parsers), not Dates.
        timedOut: isTimedOut(c.timedOutUntil === null ? null : new Date(c.timedOutUntil)),
      },
    );
    return (permissions & PermissionFlags.VIEW_CHANNEL) !== 0n;
  };

  const mentionedUsers = new Set(mentions.users);
  const mentionedRoles = new Set(roleIds);
  const pingEveryone = everyone && mentions.everyone;
  const pingHere = everyone && !mentions.everyone;
  const userIds: string[] = [];
  const notify: string[] = [];
  for (const c of candidates) {
    const id = String(c.userId);
    const direct = mentionedUsers.has(id);
    if (direct) userIds.push(id);
    const pinged =
      direct || pingEveryone || (pingHere && c.online) || c.roleIds.some((r) => mentionedRoles.has(String(r)));
    if (pinged && id !== authorId && canView(c)) notify.push(id);
  }
  return { userIds: mentions.users.filter((id) => userIds.includes(id)), roleIds, everyone, notify };
}

async function memberIdsOfThread(tx: EntityManager, threadId: string): Promise<Set<string>> {
  const rows = await tx.execute<{ userId: string }[]>('select "userId" from "ThreadMember" where "threadId" = ?', [
    threadId,
  ]);
  return new Set(rows.map((r) => String(r.userId)));
}

/**
 * The mention counts a send raises, as one atomic upsert for the send's own statement: concurrent
 * sends each add their one, none is lost. None when nobody is pinged.
 */
export function mentionCountsUpsert(channelId: string, userIds: readonly string[]): SqlStatement[] {
  if (userIds.length === 0) return [];
  return [
    {
      sql: `insert into "ReadState" ("userId", "channelId", "mentionCount")
            select u, ?::bigint, 1 from unnest(array[?]::bigint[]) as u
            on conflict ("userId", "channelId") do update set "mentionCount" = "ReadState"."mentionCount" + 1`,
      params: [channelId, [...userIds]],
    },
  ];
}
