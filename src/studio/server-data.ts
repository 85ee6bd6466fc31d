import type { EntityManager } from '@mikro-orm/postgresql';
import { NotFound } from '../domain/errors';
import { idArg } from '../domain/identity/ids';
import { compareRoleRank, permissionNames } from '../domain/permissions';
import { query } from './sql';

export interface ChannelNode {
  id: string;
  name: string | null;
  type: string;
  position: number;
  archived: boolean;
  messageCount: number;
  children: ChannelNode[];
}

export type ChannelRow = Omit<ChannelNode, 'children'> & { parentId: string | null };

export interface RoleView {
  id: string;
  name: string;
  position: number;
  everyone: boolean;
  permissions: string;
  permissionNames: string[];
  members: number;
}

export interface MemberView {
  userId: string;
  tag: string;
  nickname: string | null;
  joinedAt: string;
  timedOutUntil: string | null;
  roleIds: string[];
}

export interface ServerView {
  id: string;
  name: string;
  ownerId: string;
  ownerTag: string;
  memberCount: number;
  channels: ChannelNode[];
  roles: RoleView[];
  members: MemberView[];
}

export const MEMBERS_SHOWN = 200;

export async function listServers(em: EntityManager) {
  return query<{ id: string; name: string; memberCount: number; ownerId: string; ownerTag: string; channels: number }>(
    em,
    `select s.id::text as id, s.name, s."memberCount", s."ownerId"::text as "ownerId",
      u.username || '#' || u.discriminator as "ownerTag",
            (select count(*)::int from "Channel" c where c."serverId" = s.id) as channels
       from "Server" s join "User" u on u.id = s."ownerId" order by s."memberCount" desc, s.id limit 500`,
  );
}

/**
 * The channel tree: categories in position order with their channels, uncategorised channels
 * first (as Discord lists them), and threads under their parent channel.
 */
export function channelTree(rows: ChannelRow[]): ChannelNode[] {
  const nodes = new Map<string, ChannelNode & { parentId: string | null }>();
  for (const row of rows) nodes.set(row.id, { ...row, children: [] });
  const roots: ChannelNode[] = [];
  const order = (a: ChannelNode, b: ChannelNode) => {
    const categoryA = a.type === 'GUILD_CATEGORY' ? 1 : 0;
    const categoryB = b.type === 'GUILD_CATEGORY' ? 1 : 0;
    return categoryA - categoryB || a.position - b.position || (BigInt(a.id) < BigInt(b.id) ? -1 : 1);
  };
  for (const node of nodes.values()) {
    const parent = node.parentId ? nodes.get(node.parentId) : undefined;
    (parent ? parent.children : roots).push(node);
  }
  const sort = (list: ChannelNode[]) => {
    list.sort(order);
    list.forEach((n) => sort(n.children));
  };
  sort(roots);
  return roots;
}

export async function serverView(em: EntityManager, serverArg: string): Promise<ServerView> {
  const serverId = idArg(serverArg, 'server');
  const [server] = await query<{ id: string; name: string; ownerId: string; ownerTag: string; memberCount: number }>(
    em,
    `select s.id::text as id, s.name, s."ownerId"::text as "ownerId",
      u.username || '#' || u.discriminator as "ownerTag", s."memberCount"
       from "Server" s join "User" u on u.id = s."ownerId" where s.id = ?`,
    [serverId],
  );
  if (!server) throw new NotFound('Server', serverId);
  const channels = await query<ChannelRow>(
    em,
    `select id::text as id, name, type, position, archived, "messageCount", "parentId"::text as "parentId"
       from "Channel" where "serverId" = ? order by position, id`,
    [serverId],
  );
  const roles = await query<{ id: string; name: string; position: number; permissions: string; members: number }>(
    em,
    `select r.id::text as id, r.name, r.position, r.permissions::text as permissions,
            (select count(*)::int from "ServerMemberRole" mr where mr."roleId" = r.id) as members
       from "Role" r where r."serverId" = ?`,
    [serverId],
  );
  const members = await query<MemberView>(
    em,
    `select m."userId"::text as "userId", u.username || '#' || u.discriminator as tag, m.nickname,
      m."joinedAt"::text as "joinedAt",
            m."timedOutUntil"::text as "timedOutUntil",
            coalesce((select array_agg(mr."roleId"::text) from "ServerMemberRole" mr where mr."serverId" = m."serverId"
              and mr."userId" = m."userId"), '{}') as "roleIds"
       from "ServerMember" m join "User" u on u.id = m."userId" where m."serverId" = ? order by m."joinedAt", m."userId"
         limit ${MEMBERS_SHOWN}`,
    [serverId],
  );
  // Highest first, by the package's own ranking (position, then lower id ranks higher); @everyone last.
  const ranked = roles
    .map((r) => ({
      ...r,
      members: r.id === serverId ? server.memberCount : r.members,
      everyone: r.id === serverId,
      permissionNames: permissionNames(BigInt(r.permissions)),
    }))
    .sort((a, b) => (a.everyone ? 1 : 0) - (b.everyone ? 1 : 0) || compareRoleRank(b, a));
  return { ...server, channels: channelTree(channels), roles: ranked, members };
}
