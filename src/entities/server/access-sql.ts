/**
 * SQL pieces of the one-statement access reads (ServerAccess, ChannelAccess). A leaf module: the
 * access modules import each other's entities, so the SQL is built from the ORM's metadata at first
 * use rather than from the entity classes at load time.
 */
import type { EntityMetadata } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { columnProperties } from '../../db/rows';

/** Column types whose values exceed 2^53 (snowflakes, permission bitfields): JSON.parse would round them. */
const WIDE_NUMBER = /^(bigint|int8|numeric|decimal)/i;

/**
 * A row as a json object keyed by column name, built from the entity's mapped columns only: wide
 * numbers arrive as strings (arrays of them as arrays of strings), everything else as json itself.
 * json_build_object over named columns costs the server about half of re-keying `to_jsonb(row)`.
 */
export function rowJson(meta: EntityMetadata, alias: string): string {
  const pairs: string[] = [];
  for (const prop of columnProperties(meta)) {
    prop.fieldNames.forEach((field, i) => {
      const type = prop.columnTypes?.[i] ?? '';
      const cast = WIDE_NUMBER.test(type) ? (type.endsWith('[]') ? '::text[]' : '::text') : '';
      pairs.push(`'${field}', ${alias}."${field}"${cast}`);
    });
  }
  return `json_build_object(${pairs.join(', ')})`;
}

const cached = new WeakMap<object, Map<string, string>>();

/** Builds a statement once per ORM (its metadata) and key; `build` gets a lookup of each entity's row json. */
export function sqlFor(
  em: EntityManager,
  key: string,
  build: (json: (entityName: string, alias: string) => string) => string,
): string {
  const metadata = em.getMetadata();
  let statements = cached.get(metadata);
  if (!statements) cached.set(metadata, (statements = new Map<string, string>()));
  let sql = statements.get(key);
  if (sql === undefined) {
    sql = build((entity: string, alias: string) => rowJson(metadata.get(entity), alias));
    statements.set(key, sql);
  }
  return sql;
}

/**
 * Select-list items for the member facts of the server and user the two SQL expressions name. The
 * roles are @everyone (its id is the server's) and the member's roles, as two index lookups.
 */
export const memberFactsSql = (
  json: (entityName: string, alias: string) => string,
  serverId: string,
  userId: string,
) => `
  (select ${json('Server', 's')} from "Server" s where s."id" = ${serverId}) as "server",
  (select ${json('ServerMember', 'm')} from "ServerMember" m where m."serverId" = ${serverId}
    and m."userId" = ${userId}) as "member",
  (select coalesce(json_agg(${json('Role', 'r')}), '[]') from (
     select * from "Role" where "id" = ${serverId}
     union all
     select r.* from "ServerMemberRole" mr join "Role" r on r."id" = mr."roleId" where mr."serverId" = ${serverId}
       and mr."userId" = ${userId} and mr."roleId" <> ${serverId}
   ) r) as "roles"`;

export type JsonRow = Record<string, unknown>;

/** The member facts as the statement returns them; null when the server or the membership is absent. */
export interface MemberFacts {
  server: JsonRow | null;
  member: JsonRow | null;
  roles: JsonRow[];
}
