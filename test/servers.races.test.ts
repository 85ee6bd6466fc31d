import { describe, expect, it } from 'vitest';
import { AlreadyMember, InviteInvalid, NotAMember, NotFound, OwnerCannotLeave, UserBanned } from '../src/domain/errors';
import { fulfilled, race, rejected } from './support/db';
// ---- shared test helpers (copied into each servers.* test file of the membership work) ----

import type { EntityManager } from '@mikro-orm/postgresql';
import { nextSnowflake } from '../src/domain/snowflake';
import { Invite } from '../src/entities/server/Invite';
import type { InviteRepository } from '../src/entities/server/InviteRepository';
import type { MembershipRepository } from '../src/entities/server/MembershipRepository';
import { Server } from '../src/entities/server/Server';
import type { ServerRepository } from '../src/entities/server/ServerRepository';
import { ServerMember } from '../src/entities/server/ServerMember';
import { User } from '../src/entities/user/User';
import { useTestDatabase } from './support/db';

const db = useTestDatabase({ poolSize: 30 });

let seq = 0;
const register = (name: string) => db().fork().getRepository(User).register({ username: `${name}${++seq}` });
const memberships = (em: EntityManager = db().fork()): MembershipRepository => em.getRepository(ServerMember);
const invites = (em: EntityManager = db().fork()): InviteRepository => em.getRepository(Invite);
const servers = (em: EntityManager = db().fork()): ServerRepository => em.getRepository(Server);
const loadMember = (serverId: string, userId: string, em: EntityManager = db().fork()) => em.findOneOrFail(ServerMember, { server: serverId, user: userId });

interface World {
  owner: User;
  server: Server;
  textId: string;
  categoryId: string;
  code: string;
}

/** A server with its owner, the id of its text channel and an unlimited, never-expiring invite. */
async function world(): Promise<World> {
  const owner = await register('owner');
  const server = await servers().createServer(owner, { name: 'Guild' });
  const [{ id: textId }] = await db().sql<{ id: string }>(`select id::text from "Channel" where "serverId" = $1 and type = 'GUILD_TEXT'`, [server.id]);
  const [{ id: categoryId }] = await db().sql<{ id: string }>(`select id::text from "Channel" where "serverId" = $1 and type = 'GUILD_CATEGORY' limit 1`, [server.id]);
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
async function role(serverId: string, permissions: bigint, position: number, userIds: string[] = [], id = nextSnowflake()): Promise<string> {
  await db().sql(`insert into "Role" (id, "serverId", name, permissions, position) values ($1, $2, $3, $4, $5)`, [id, serverId, `role${position}`, permissions.toString(), position]);
  for (const userId of userIds) await db().sql(`insert into "ServerMemberRole" ("serverId", "userId", "roleId") values ($1, $2, $3)`, [serverId, userId, id]);
  return id;
}

async function setEveryone(serverId: string, permissions: bigint): Promise<void> {
  await db().sql(`update "Role" set permissions = $2 where id = $1`, [serverId, permissions.toString()]);
}

/** Everything a membership operation may write, read from the database. */
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

async function state(serverId: string): Promise<State> {
  const [row] = await db().sql<State>(
    `select (select "memberCount" from "Server" where id = $1) as "memberCount",
            (select row_to_json(s) from (select name, description, icon, banner, "verificationLevel", "ownerId"::text from "Server" where id = $1) s) as server,
            (select json_agg(json_build_object('userId', "userId"::text, 'nickname', nickname, 'timedOutUntil', "timedOutUntil") order by "userId") from "ServerMember" where "serverId" = $1) as members,
            (select json_agg(json_build_object('userId', "userId"::text, 'reason', reason) order by "userId") from "Ban" where "serverId" = $1) as bans,
            (select json_agg(json_build_object('code', code, 'uses', uses) order by code) from "Invite" where "serverId" = $1) as invites,
            (select count(*)::int from "AuditLogEntry" where "serverId" = $1) as audit,
            (select count(*)::int from "DomainEvent" where "serverId" = $1) as events,
            (select count(*)::int from "ServerMemberRole" where "serverId" = $1) as "memberRoles"`,
    [serverId],
  );
  return row;
}

/** The action fails with `error` and leaves every table as it was: no row, no audit entry, no event. */
async function refusedUnchanged(serverId: string, action: () => Promise<unknown>, error: abstract new (...args: never[]) => Error, details?: Record<string, unknown>) {
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
    `select type, payload, "userIds"::text[] as "userIds" from "DomainEvent" where "serverId" = $1 and id > $2 order by id`,
    [serverId, since],
  );
}

async function auditLog(serverId: string) {
  return db().sql<{ actionType: number; actorId: string | null; targetId: string | null; changes: unknown[]; reason: string | null }>(
    `select "actionType", "actorId"::text, "targetId"::text, changes, reason from "AuditLogEntry" where "serverId" = $1 order by id`,
    [serverId],
  );
}
// ---- end of helpers ----

/** Registers n users at once. */
async function registerMany(n: number, prefix: string): Promise<User[]> {
  const results = await race(db(), n, (em, i) => em.getRepository(User).register({ username: `${prefix}${++seq}x${i}` }));
  expect(rejected(results)).toEqual([]);
  return fulfilled(results);
}

async function realCount(serverId: string): Promise<{ memberCount: number; real: number }> {
  const [row] = await db().sql<{ memberCount: number; real: number }>(
    `select "memberCount", (select count(*)::int from "ServerMember" where "serverId" = $1) as real from "Server" where id = $1`,
    [serverId],
  );
  return row;
}

describe('membership races, each operation on its own connection', () => {
  it('50 concurrent joins through an invite with maxUses 10 give exactly 10 members and uses = 10', async () => {
    const w = await world();
    const invite = await invites().createInvite(w.owner, w.textId, { maxUses: 10, maxAge: 0 });
    const users = await registerMany(50, 'rush');
    const results = await race(db(), 50, (em, i) => em.getRepository(ServerMember).acceptInvite(users[i], invite.code));
    expect(fulfilled(results)).toHaveLength(10);
    const failures = rejected(results);
    expect(failures).toHaveLength(40);
    for (const failure of failures) expect(failure).toMatchObject({ code: 'INVITE_INVALID', reason: 'used_up' });
    expect(failures.every((f) => f instanceof InviteInvalid)).toBe(true);
    const [{ uses }] = await db().sql(`select uses from "Invite" where code = $1`, [invite.code]);
    expect(uses).toBe(10);
    const joinedIds = (await db().sql<{ userId: string }>(`select "userId"::text from "ServerMember" where "serverId" = $1 and "userId" <> $2`, [w.server.id, w.owner.id])).map((r) => r.userId);
    expect(joinedIds.sort()).toEqual(fulfilled(results).map((m) => m.user.id).sort());
    expect(await realCount(w.server.id)).toEqual({ memberCount: 11, real: 11 });
    const [{ adds }] = await db().sql<{ adds: number }>(`select count(*)::int as adds from "DomainEvent" where "serverId" = $1 and type = 'GUILD_MEMBER_ADD'`, [w.server.id]);
    expect(adds).toBe(10);
  });

  it('memberCount equals the real count after 200 concurrent joins and leaves', async () => {
    const w = await world();
    const stayers = await registerMany(100, 'stay');
    const joiners = await registerMany(100, 'come');
    // 100 members first (themselves joining concurrently)
    const first = await race(db(), 100, (em, i) => em.getRepository(ServerMember).acceptInvite(stayers[i], w.code));
    expect(rejected(first)).toEqual([]);
    expect(await realCount(w.server.id)).toEqual({ memberCount: 101, real: 101 });
    // then, interleaved: even operations join a new user, odd ones make an existing member leave
    const results = await race<unknown>(db(), 200, (em, i) => {
      const repo = em.getRepository(ServerMember);
      return i % 2 === 0 ? repo.acceptInvite(joiners[i / 2], w.code) : repo.leave(stayers[(i - 1) / 2], w.server.id);
    });
    expect(rejected(results)).toEqual([]);
    expect(await realCount(w.server.id)).toEqual({ memberCount: 101, real: 101 });
    const [{ uses }] = await db().sql(`select uses from "Invite" where code = $1`, [w.code]);
    expect(uses).toBe(200);
  });

  it('one user joining ten times at once becomes a member once and consumes one use', async () => {
    const w = await world();
    const invite = await invites().createInvite(w.owner, w.textId, { maxUses: 5 });
    const user = await register('eager');
    const results = await race(db(), 10, (em) => em.getRepository(ServerMember).acceptInvite(user, invite.code));
    expect(fulfilled(results)).toHaveLength(1);
    expect(rejected(results).every((e) => e instanceof AlreadyMember)).toBe(true);
    const [{ uses }] = await db().sql(`select uses from "Invite" where code = $1`, [invite.code]);
    expect(uses).toBe(1);
    expect(await realCount(w.server.id)).toEqual({ memberCount: 2, real: 2 });
  });

  it('a ban racing a join never leaves a banned member behind', async () => {
    const w = await world();
    const users = await registerMany(25, 'racer');
    const results = await race<unknown>(db(), 50, (em, i) => {
      const user = users[Math.floor(i / 2)];
      return i % 2 === 0 ? em.getRepository(ServerMember).acceptInvite(user, w.code) : em.getRepository(ServerMember).ban(w.owner, w.server.id, user.id, { reason: 'race' });
    });
    // every ban succeeds; a join either came first (then the ban removed it) or was refused
    for (let i = 1; i < 50; i += 2) expect(results[i].status).toBe('fulfilled');
    for (const failure of rejected(results)) expect(failure).toBeInstanceOf(UserBanned);
    const bannedMembers = await db().sql(`select m."userId" from "ServerMember" m join "Ban" b using ("serverId", "userId") where m."serverId" = $1`, [w.server.id]);
    expect(bannedMembers).toEqual([]);
    expect(await realCount(w.server.id)).toEqual({ memberCount: 1, real: 1 });
  });

  it('a transfer racing the heir leaving never leaves a server whose owner is not a member', async () => {
    const worlds: World[] = [];
    const heirs: User[] = [];
    for (let k = 0; k < 10; k++) {
      worlds.push(await world());
      heirs.push(await joined(worlds[k], 'heir'));
    }
    const results = await race<unknown>(db(), 20, (em, i) => {
      const k = Math.floor(i / 2);
      return i % 2 === 0 ? em.getRepository(Server).transferOwnership(worlds[k].owner, worlds[k].server.id, heirs[k]) : em.getRepository(ServerMember).leave(heirs[k], worlds[k].server.id);
    });
    for (const failure of rejected(results)) expect(failure instanceof OwnerCannotLeave || failure instanceof NotFound || failure instanceof NotAMember).toBe(true);
    for (let k = 0; k < 10; k++) {
      // exactly one of the two won
      expect([results[2 * k].status, results[2 * k + 1].status].sort()).toEqual(['fulfilled', 'rejected']);
      const [row] = await db().sql<{ ownerIsMember: boolean }>(
        `select exists(select 1 from "ServerMember" m where m."serverId" = s.id and m."userId" = s."ownerId") as "ownerIsMember" from "Server" s where s.id = $1`,
        [worlds[k].server.id],
      );
      expect(row.ownerIsMember).toBe(true);
      expect(await realCount(worlds[k].server.id)).toEqual({ memberCount: results[2 * k].status === 'fulfilled' ? 2 : 1, real: results[2 * k].status === 'fulfilled' ? 2 : 1 });
    }
  });
});
