import { expect } from 'vitest';
import type { EntityManager } from '@mikro-orm/postgresql';
import { nextSnowflake } from '../../src/domain/snowflake';
import type { Server } from '../../src/entities/server/Server';
import { ServerMember } from '../../src/entities/server/ServerMember';
import { InviteService } from '../../src/servers/invite-service';
import { MembershipService } from '../../src/servers/membership-service';
import { ServerService } from '../../src/servers/server-service';
import { User } from '../../src/entities/user/User';
import type { TestDatabase } from './db';
import { UserService } from '../../src/identity/user-service';

export interface World {
  owner: User;
  server: Server;
  textId: string;
  categoryId: string;
  code: string;
}

export /** Everything a membership operation may write, read from the database. */
interface State {
  memberCount: number;
  server: Record<string, unknown> | null;
  members: { userId: string; nickname: string | null; timedOutUntil: string | null }[] | null;
  bans: { userId: string; reason: string | null }[] | null;
  invites: { code: string; uses: number }[] | null;
  audit: number;
  events: number;
  memberRoles: number;
}

/**
 * The setup shared by the membership, invite, moderation and race suites: a server with an open
 * invite, members joined through it, roles made directly in SQL, and a snapshot of every table a
 * membership operation may write (to prove a refusal wrote nothing).
 */
export function membershipHelpers(db: () => TestDatabase) {
  let seq = 0;
  const register = (name: string) => new UserService(db().fork()).register({ username: `${name}${++seq}` });
  const memberships = (em: EntityManager = db().fork()) => new MembershipService(em);
  const invites = (em: EntityManager = db().fork()) => new InviteService(em);
  const servers = (em: EntityManager = db().fork()) => new ServerService(em);
  const loadMember = (serverId: string, userId: string, em: EntityManager = db().fork()) =>
    em.findOneOrFail(ServerMember, { server: serverId, user: userId });

  /** A server with its owner, the id of its text channel and an unlimited, never-expiring invite. */
  async function world(): Promise<World> {
    const owner = await register('owner');
    const server = await servers().createServer(owner, { name: 'Guild' });
    const [{ id: textId }] = await db().sql<{ id: string }>(
      `select id::text from "Channel" where "serverId" = $1 and type = 'GUILD_TEXT'`,
      [server.id],
    );
    const [{ id: categoryId }] = await db().sql<{ id: string }>(
      `select id::text from "Channel" where "serverId" = $1 and type = 'GUILD_CATEGORY' limit 1`,
      [server.id],
    );
    const invite = await invites().createInvite(owner, textId, { maxAge: 0 });
    return { owner, server, textId, categoryId, code: invite.code };
  }

  /** Registers a user and joins them through the world's invite. */
  async function joined(w: World, name = 'member'): Promise<User> {
    const user = await register(name);
    await memberships().acceptInvite(user, w.code);
    return user;
  }

  /** A role made directly in the database (role CRUD is not under test here), given to `userIds`. */
  async function role(
    serverId: string,
    permissions: bigint,
    position: number,
    userIds: string[] = [],
    id = nextSnowflake(),
  ): Promise<string> {
    await db().sql(`insert into "Role" (id, "serverId", name, permissions, position) values ($1, $2, $3, $4, $5)`, [
      id,
      serverId,
      `role${position}`,
      permissions.toString(),
      position,
    ]);
    for (const userId of userIds)
      await db().sql(`insert into "ServerMemberRole" ("serverId", "userId", "roleId") values ($1, $2, $3)`, [
        serverId,
        userId,
        id,
      ]);
    return id;
  }

  async function setEveryone(serverId: string, permissions: bigint): Promise<void> {
    await db().sql(`update "Role" set permissions = $2 where id = $1`, [serverId, permissions.toString()]);
  }

  async function state(serverId: string): Promise<State> {
    const [row] = await db().sql<State>(
      `select (select "memberCount" from "Server" where id = $1) as "memberCount",
              (select row_to_json(s) from (select name, description, icon, banner, "verificationLevel", "ownerId"::text
                from "Server" where id = $1) s) as server,
              (select json_agg(json_build_object('userId', "userId"::text, 'nickname', nickname, 'timedOutUntil',
                "timedOutUntil") order by "userId") from "ServerMember" where "serverId" = $1) as members,
              (select json_agg(json_build_object('userId', "userId"::text, 'reason', reason) order by "userId")
                from "Ban" where "serverId" = $1) as bans,
              (select json_agg(json_build_object('code', code, 'uses', uses) order by code) from "Invite"
                where "serverId" = $1) as invites,
              (select count(*)::int from "AuditLogEntry" where "serverId" = $1) as audit,
              (select count(*)::int from "DomainEvent" where "serverId" = $1) as events,
              (select count(*)::int from "ServerMemberRole" where "serverId" = $1) as "memberRoles"`,
      [serverId],
    );
    return row;
  }

  /** The action fails with `error` and leaves every table as it was: no row, no audit entry, no event. */
  async function refusedUnchanged(
    serverId: string,
    action: () => Promise<unknown>,
    error: abstract new (...args: never[]) => Error,
    details?: Record<string, unknown>,
  ) {
    const before = await state(serverId);
    const failure = await action().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(error);
    if (details) expect(failure).toMatchObject(details);
    expect(await state(serverId)).toEqual(before);
    return failure;
  }

  async function lastEventId(): Promise<string> {
    const [{ id }] = await db().sql<{ id: string }>(`select coalesce(max(id), 0)::text as id from "DomainEvent"`);
    return id;
  }

  /** Domain events of a server written after `since`, in order. */
  async function eventsSince(serverId: string, since: string) {
    return db().sql<{ type: string; payload: Record<string, unknown>; userIds: string[] | null }>(
      `select type, payload, "userIds"::text[] as "userIds" from "DomainEvent" where "serverId" = $1 and id > $2
        order by id`,
      [serverId, since],
    );
  }

  async function auditLog(serverId: string) {
    return db().sql<{
      actionType: number;
      actorId: string | null;
      targetId: string | null;
      changes: unknown[];
      reason: string | null;
    }>(
      `select "actionType", "actorId"::text, "targetId"::text, changes, reason from "AuditLogEntry"
        where "serverId" = $1 order by id`,
      [serverId],
    );
  }

  return {
    register,
    memberships,
    invites,
    servers,
    loadMember,
    world,
    joined,
    role,
    setEveryone,
    state,
    refusedUnchanged,
    lastEventId,
    eventsSince,
    auditLog,
  };
}
