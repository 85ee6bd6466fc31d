/**
 * SQL pieces of the one-statement access reads (ServerAccess, ChannelAccess). A leaf module: the
 * access modules import each other's entities, and these strings must exist before either loads.
 */

/**
 * A row as jsonb with every number as a string: snowflakes and permission bitfields exceed 2^53, and
 * JSON.parse would round them. The entity hydrator turns numeric strings back into numbers where a
 * property is a number.
 */
export const rowJson = (row: string) =>
  `(select jsonb_object_agg(e.k, case jsonb_typeof(e.v) when 'number' then to_jsonb(e.v #>> '{}') else e.v end) from jsonb_each(to_jsonb(${row})) e(k, v))`;

/** Select-list items for the member facts of the server and user the two SQL expressions name. */
export const memberFactsSql = (serverId: string, userId: string) => `
  (select ${rowJson('s')} from "Server" s where s."id" = ${serverId}) as "server",
  (select ${rowJson('m')} from "ServerMember" m where m."serverId" = ${serverId} and m."userId" = ${userId}) as "member",
  (select coalesce(jsonb_agg(${rowJson('r')}), '[]') from "Role" r
     where r."id" = ${serverId}
        or r."id" in (select mr."roleId" from "ServerMemberRole" mr where mr."serverId" = ${serverId} and mr."userId" = ${userId})) as "roles"`;

export type JsonRow = Record<string, unknown>;

/** The member facts as the statement returns them; null when the server or the membership is absent. */
export interface MemberFacts {
  server: JsonRow | null;
  member: JsonRow | null;
  roles: JsonRow[];
}
