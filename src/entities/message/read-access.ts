import type { EntityManager } from '@mikro-orm/postgresql';
import { NotAMember, NotARecipient, NotATextChannel, NotFound } from '../../domain/errors';
import {
  applyImplicitPermissions,
  channelKindOf,
  computePermissions,
  DM_PERMISSIONS,
  isTimedOut,
  type PermissionOverwriteInput,
  PermissionFlags,
} from '../../domain/permissions';
import { ChannelType, PRIVATE_CHANNEL_TYPES, TEXT_CHANNEL_TYPES, THREAD_CHANNEL_TYPES } from '../channel/Channel';

/**
 * Permission loading for the read paths (history, search, mentions). ChannelAccess reads in one
 * statement too, but merges the channel, server and membership into the unit of work for the write
 * paths that change them; a read path needs none of that. These loaders read the same rows in one
 * statement (two for a whole user's channel set) into plain data, and compute with the same
 * functions ServerAccess uses (computePermissions, then the implicit rules), so the answers agree;
 * test/messages.history.test.ts checks them against loadChannelAccess case by case.
 */

/** Runs SQL with `?` placeholders: on a replica outside a transaction, on the transaction otherwise. */
export type ReadSql = <T>(sql: string, params: unknown[]) => Promise<T[]>;

export function readSql(em: EntityManager): ReadSql {
  if (em.isInTransaction()) return <T>(sql: string, params: unknown[]) => em.execute<T[]>(sql, params);
  // getConnection('read') is the primary when no replica is configured.
  const connection = em.getConnection('read');
  return <T>(sql: string, params: unknown[]) => connection.execute<T[]>(sql, params, 'all');
}

/** VIEW_CHANNEL and READ_MESSAGE_HISTORY: what reading a channel's messages takes. */
export const READ_BITS = PermissionFlags.VIEW_CHANNEL | PermissionFlags.READ_MESSAGE_HISTORY;

const THREAD_TYPES_SQL = [...THREAD_CHANNEL_TYPES].map((t) => `'${t}'`).join(', ');
const PRIVATE_TYPES_SQL = [...PRIVATE_CHANNEL_TYPES].map((t) => `'${t}'`).join(', ');

type OverwriteRow = [string, string, string, string];
type RoleRow = [string, string];

const overwritesOf = (rows: OverwriteRow[]): PermissionOverwriteInput[] =>
  rows.map(([id, type, allow, deny]) => ({
    id,
    type: type === 'ROLE' ? 'role' : 'member',
    allow: BigInt(allow),
    deny: BigInt(deny),
  }));
const rolesOf = (rows: RoleRow[]) =>
  rows.filter(([id]) => id !== null).map(([id, permissions]) => ({ id, permissions: BigInt(permissions) }));
const timedOutAt = (value: string | Date | null, now: Date) => isTimedOut(value === null ? null : new Date(value), now);

export interface ReadAccess {
  channelId: string;
  serverId: string | null;
  type: ChannelType;
  permissions: bigint;
}

const CHANNEL_ACCESS_SQL = `
select c.id::text as id, c.type, c."serverId"::text as "serverId", s."ownerId"::text as "ownerId",
  e.permissions::text as everyone,
       sm."userId" is not null as member, sm."timedOutUntil",
       (select coalesce(json_agg(json_build_array(r.id::text, r.permissions::text)), '[]'::json)
          from "ServerMemberRole" mr join "Role" r on r.id = mr."roleId" where mr."serverId" = c."serverId"
            and mr."userId" = ?) as roles,
       (select coalesce(json_agg(json_build_array(o."targetId"::text, o.type, o.allow::text, o.deny::text)), '[]'::json)
          from "PermissionOverwrite" o where o."channelId" = case when c.type in (${THREAD_TYPES_SQL}) then c."parentId"
            else c.id end) as overwrites,
       exists (select 1 from "ThreadMember" tm where tm."threadId" = c.id and tm."userId" = ?) as "threadMember",
       exists (select 1 from "ChannelRecipient" cr where cr."channelId" = c.id and cr."userId" = ?) as recipient
  from "Channel" c
  left join "Server" s on s.id = c."serverId"
  left join "Role" e on e.id = c."serverId"
  left join "ServerMember" sm on sm."serverId" = c."serverId" and sm."userId" = ?
 where c.id = ?`;

interface ChannelAccessRow {
  id: string;
  type: ChannelType;
  serverId: string | null;
  ownerId: string | null;
  everyone: string | null;
  member: boolean;
  timedOutUntil: Date | string | null;
  roles: RoleRow[];
  overwrites: OverwriteRow[];
  threadMember: boolean;
  recipient: boolean;
}

/** The SQL and parameters `loadReadAccess` runs (exposed for EXPLAIN tests and the benchmark). */
export function readAccessSql(channelId: string, userId: string) {
  return { sql: CHANNEL_ACCESS_SQL, params: [userId, userId, userId, userId, channelId] };
}

/**
 * A user's permissions in one channel, in one statement. The same refusals as loadChannelAccess:
 * NotFound, NotATextChannel, NotARecipient (DMs), NotAMember (server channels).
 */
export async function loadReadAccess(
  run: ReadSql,
  channelId: string,
  userId: string,
  now = new Date(),
): Promise<ReadAccess> {
  const { sql, params } = readAccessSql(channelId, userId);
  const [row] = await run<ChannelAccessRow>(sql, params);
  if (!row) throw new NotFound('Channel', channelId);
  if (!TEXT_CHANNEL_TYPES.has(row.type)) throw new NotATextChannel(channelId, row.type);
  const base = { channelId, serverId: row.serverId, type: row.type };
  if (PRIVATE_CHANNEL_TYPES.has(row.type)) {
    if (!row.recipient) throw new NotARecipient(channelId);
    return { ...base, permissions: DM_PERMISSIONS };
  }
  if (!row.member) throw new NotAMember(row.serverId!);
  const input = {
    serverId: row.serverId!,
    ownerId: row.ownerId!,
    memberId: userId,
    everyone: BigInt(row.everyone ?? 0),
    roles: rolesOf(row.roles),
    overwrites: overwritesOf(row.overwrites),
  };
  const permissions = applyImplicitPermissions(computePermissions(input), {
    channelType: channelKindOf(row.type),
    privateThread: row.type === ChannelType.PRIVATE_THREAD,
    threadMember: row.threadMember,
    timedOut: timedOutAt(row.timedOutUntil, now),
    isOwner: userId === row.ownerId,
  });
  return { ...base, permissions };
}

const DMS_SQL = `(select coalesce(json_agg(cr."channelId"::text), '[]'::json)
         from "ChannelRecipient" cr where cr."userId" = ?)`;

const VIEWABLE_SQL = (oneServer: boolean) => `
select (select coalesce(json_agg(json_build_array(
          sm."serverId"::text, s."ownerId"::text, e.permissions::text, sm."timedOutUntil",
          (select coalesce(json_agg(json_build_array(r.id::text, r.permissions::text)), '[]'::json)
             from "ServerMemberRole" mr join "Role" r on r.id = mr."roleId" where mr."serverId" = sm."serverId"
               and mr."userId" = sm."userId"),
          (select coalesce(json_agg(json_build_array(c.id::text, c.type,
                    (select coalesce(json_agg(json_build_array(o."targetId"::text, o.type, o.allow::text,
                      o.deny::text)), '[]'::json)
                       from "PermissionOverwrite" o where o."channelId" = c.id))), '[]'::json)
             from "Channel" c where c."serverId" = sm."serverId" and c.type not in (${THREAD_TYPES_SQL},
               ${PRIVATE_TYPES_SQL})))), '[]'::json)
          from "ServerMember" sm join "Server" s on s.id = sm."serverId" join "Role" e on e.id = sm."serverId"
         where sm."userId" = ?${oneServer ? ' and sm."serverId" = ?' : ''}) as servers,
       ${oneServer ? `'[]'::json` : DMS_SQL} as dms,
       exists (select 1 from "ServerMember" sm join "Channel" c on c."serverId" = sm."serverId"
                where sm."userId" = ?${oneServer ? ' and sm."serverId" = ?' : ''}
                  and c.type in (${THREAD_TYPES_SQL})) as "anyThreads"`;

const THREADS_SQL = `
select c.id::text as id, c.type, c."parentId"::text as "parentId",
       exists (select 1 from "ThreadMember" tm where tm."threadId" = c.id and tm."userId" = ?) as member
  from "Channel" c where c."parentId" = any(array[?]::bigint[]) and c.type in (${THREAD_TYPES_SQL})`;

type ServerRow = [string, string, string, string | null, RoleRow[], [string, ChannelType, OverwriteRow[]][]];

/**
 * The ids of every channel where `userId` may read messages (VIEW_CHANNEL and
 * READ_MESSAGE_HISTORY): server channels by roles and overwrites, threads by their parent's
 * (private threads: members and MANAGE_THREADS only), and the user's DMs and group DMs. One
 * statement (two when the servers have threads) whatever the number of servers. `serverId` narrows
 * to one server (and no DMs): NotAMember when the user is not in it.
 */
export async function viewableChannelIds(
  run: ReadSql,
  userId: string,
  options: { serverId?: string } = {},
  now = new Date(),
): Promise<string[]> {
  const oneServer = options.serverId !== undefined;
  const [row] = await run<{ servers: ServerRow[]; dms: string[]; anyThreads: boolean }>(
    VIEWABLE_SQL(oneServer),
    oneServer ? [userId, options.serverId, userId, options.serverId] : [userId, userId, userId],
  );
  if (oneServer && row.servers.length === 0) throw new NotAMember(options.serverId!);
  const out: string[] = [...row.dms];
  // Per parent channel: the permissions before the implicit rules, which a thread re-applies with its own context.
  const parents = new Map<string, { base: bigint; isOwner: boolean; timedOut: boolean }>();
  for (const [serverId, ownerId, everyone, timedOutUntil, roles, channels] of row.servers) {
    const memberRoles = rolesOf(roles);
    const timedOut = timedOutAt(timedOutUntil, now);
    const isOwner = ownerId === userId;
    for (const [id, type, overwrites] of channels) {
      const base = computePermissions({
        serverId,
        ownerId,
        memberId: userId,
        everyone: BigInt(everyone),
        roles: memberRoles,
        overwrites: overwritesOf(overwrites),
      });
      const effective = applyImplicitPermissions(base, { channelType: channelKindOf(type), timedOut, isOwner });
      if ((effective & PermissionFlags.VIEW_CHANNEL) === 0n) continue;
      parents.set(id, { base, isOwner, timedOut });
      if (TEXT_CHANNEL_TYPES.has(type) && (effective & READ_BITS) === READ_BITS) out.push(id);
    }
  }
  // Threads are read only where there are some: the common case stays one statement.
  if (parents.size === 0 || !row.anyThreads) return out;
  const threads = await run<{ id: string; type: ChannelType; parentId: string; member: boolean }>(THREADS_SQL, [
    userId,
    [...parents.keys()],
  ]);
  for (const t of threads) {
    const parent = parents.get(t.parentId)!;
    const effective = applyImplicitPermissions(parent.base, {
      channelType: 'thread',
      privateThread: t.type === ChannelType.PRIVATE_THREAD,
      threadMember: t.member,
      timedOut: parent.timedOut,
      isOwner: parent.isOwner,
    });
    if ((effective & READ_BITS) === READ_BITS) out.push(t.id);
  }
  return out;
}
