import { describe, expect, it } from 'vitest';
import { AlreadyMember, InviteInvalid, NotAMember, NotFound, OwnerCannotLeave, UserBanned } from '../src/domain/errors';
import { fulfilled, race, rejected } from './support/db';
import { nextSnowflake } from '../src/domain/snowflake';
import { User } from '../src/entities/user/User';
import { useTestDatabase } from './support/db';
import { checkInvariants } from '../src/db/invariants';
import { membershipHelpers, type World } from './support/membership';
import { MembershipService } from '../src/servers/membership-service';
import { ServerService } from '../src/servers/server-service';
import { UserService } from '../src/identity/user-service';

const db = useTestDatabase({ poolSize: 30 });
const { register, invites, world, joined } = membershipHelpers(db);

/** Registers n users at once. */
async function registerMany(n: number, prefix: string): Promise<User[]> {
  const results = await race(db(), n, (em, i) =>
    new UserService(em).register({ username: `${prefix}${nextSnowflake()}x${i}` }),
  );
  expect(rejected(results)).toEqual([]);
  return fulfilled(results);
}

async function realCount(serverId: string): Promise<{ memberCount: number; real: number }> {
  const [row] = await db().sql<{ memberCount: number; real: number }>(
    `select "memberCount", (select count(*)::int from "ServerMember" where "serverId" = $1) as real from "Server"
      where id = $1`,
    [serverId],
  );
  return row;
}

describe('membership races, each operation on its own connection', () => {
  it('50 concurrent joins through an invite with maxUses 10 give exactly 10 members and uses = 10', async () => {
    const w = await world();
    const invite = await invites().createInvite(w.owner, w.textId, { maxUses: 10, maxAge: 0 });
    const users = await registerMany(50, 'rush');
    const results = await race(db(), 50, (em, i) => new MembershipService(em).acceptInvite(users[i], invite.code));
    expect(fulfilled(results)).toHaveLength(10);
    const failures = rejected(results);
    expect(failures).toHaveLength(40);
    for (const failure of failures) expect(failure).toMatchObject({ code: 'INVITE_INVALID', reason: 'used_up' });
    expect(failures.every((f) => f instanceof InviteInvalid)).toBe(true);
    const [{ uses }] = await db().sql(`select uses from "Invite" where code = $1`, [invite.code]);
    expect(uses).toBe(10);
    const joinedIds = (
      await db().sql<{ userId: string }>(
        `select "userId"::text from "ServerMember" where "serverId" = $1 and "userId" <> $2`,
        [w.server.id, w.owner.id],
      )
    ).map((r) => r.userId);
    expect(joinedIds.sort()).toEqual(
      fulfilled(results)
        .map((m) => m.user.id)
        .sort(),
    );
    expect(await realCount(w.server.id)).toEqual({ memberCount: 11, real: 11 });
    const [{ adds }] = await db().sql<{ adds: number }>(
      `select count(*)::int as adds from "DomainEvent" where "serverId" = $1 and type = 'GUILD_MEMBER_ADD'`,
      [w.server.id],
    );
    expect(adds).toBe(10);
  });

  it('memberCount equals the real count after 200 concurrent joins and leaves', async () => {
    const w = await world();
    const stayers = await registerMany(100, 'stay');
    const joiners = await registerMany(100, 'come');
    // 100 members first (themselves joining concurrently)
    const first = await race(db(), 100, (em, i) => new MembershipService(em).acceptInvite(stayers[i], w.code));
    expect(rejected(first)).toEqual([]);
    expect(await realCount(w.server.id)).toEqual({ memberCount: 101, real: 101 });
    // then, interleaved: even operations join a new user, odd ones make an existing member leave
    const results = await race<unknown>(db(), 200, (em, i) => {
      const repo = new MembershipService(em);
      return i % 2 === 0 ? repo.acceptInvite(joiners[i / 2], w.code) : repo.leave(stayers[(i - 1) / 2], w.server.id);
    });
    expect(rejected(results)).toEqual([]);
    expect(await realCount(w.server.id)).toEqual({ memberCount: 101, real: 101 });
    const [{ uses }] = await db().sql(`select uses from "Invite" where code = $1`, [w.code]);
    expect(uses).toBe(200);
    // And so for every server of this file's database (the domain's invariants, as seeded worlds are checked).
    expect(await checkInvariants(db().fork())).toEqual([]);
  });

  it('one user joining ten times at once becomes a member once and consumes one use', async () => {
    const w = await world();
    const invite = await invites().createInvite(w.owner, w.textId, { maxUses: 5 });
    const user = await register('eager');
    const results = await race(db(), 10, (em) => new MembershipService(em).acceptInvite(user, invite.code));
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
      return i % 2 === 0
        ? new MembershipService(em).acceptInvite(user, w.code)
        : new MembershipService(em).ban(w.owner, w.server.id, user.id, { reason: 'race' });
    });
    // every ban succeeds; a join either came first (then the ban removed it) or was refused
    for (let i = 1; i < 50; i += 2) expect(results[i].status).toBe('fulfilled');
    for (const failure of rejected(results)) expect(failure).toBeInstanceOf(UserBanned);
    const bannedMembers = await db().sql(
      `select m."userId" from "ServerMember" m join "Ban" b using ("serverId", "userId") where m."serverId" = $1`,
      [w.server.id],
    );
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
      return i % 2 === 0
        ? new ServerService(em).transferOwnership(worlds[k].owner, worlds[k].server.id, heirs[k])
        : new MembershipService(em).leave(heirs[k], worlds[k].server.id);
    });
    for (const failure of rejected(results))
      expect(failure instanceof OwnerCannotLeave || failure instanceof NotFound || failure instanceof NotAMember).toBe(
        true,
      );
    for (let k = 0; k < 10; k++) {
      // exactly one of the two won
      expect([results[2 * k].status, results[2 * k + 1].status].sort()).toEqual(['fulfilled', 'rejected']);
      const [row] = await db().sql<{ ownerIsMember: boolean }>(
        `select exists(select 1 from "ServerMember" m where m."serverId" = s.id
          and m."userId" = s."ownerId") as "ownerIsMember" from "Server" s where s.id = $1`,
        [worlds[k].server.id],
      );
      expect(row.ownerIsMember).toBe(true);
      expect(await realCount(worlds[k].server.id)).toEqual({
        memberCount: results[2 * k].status === 'fulfilled' ? 2 : 1,
        real: results[2 * k].status === 'fulfilled' ? 2 : 1,
      });
    }
  });
});
