import type { EntityManager } from '@mikro-orm/postgresql';
import { beforeAll, describe, expect, it } from 'vitest';
import { HierarchyViolation, NotFound } from '../src/domain/errors';
import { PermissionFlags as F } from '../src/domain/permissions';
import { RoleService } from '../src/servers/role-service';
import { MembershipService } from '../src/servers/membership-service';
import { VoiceService } from '../src/voice/voice-service';
import { nextSnowflake } from '../src/domain/snowflake';
import type { User } from '../src/entities/user/User';
import { race, useTestDatabase } from './support/db';
import { membershipHelpers, type World } from './support/membership';

/**
 * Issue 16, rule 5: role changes and moderation of the same member serialise through the server's
 * hierarchy lock, so a moderator never acts on a member who was promoted to or above the
 * moderator's top role by a change that committed before the moderator's own.
 *
 * Promotion against kick or ban has two serial outcomes (promoted then the kick refused, or kicked
 * then the promotion finds no member); both succeeding is a lost update the audit log shows.
 * A role moved against a timeout cannot show a lost update in the final rows (the move reads
 * nothing the timeout writes), so a test-only deferred trigger witnesses, at the timeout's COMMIT,
 * where the target's and the moderator's top roles stand: a timeout must never commit while the
 * target's role is already above the moderator's.
 */

const db = useTestDatabase({ poolSize: 12 });
const { memberships, world, joined, role, auditLog } = membershipHelpers(db);
const ROUNDS = 50;
const MOD_POSITION = 5;
const ABOVE_MOD = 8;
const inAnHour = () => new Date(Date.now() + 3600_000);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  await db().sql(
    `create table hierarchy_witness ("auditId" bigint primary key, "targetTop" int not null, "actorTop" int not null)`,
  );
  await db().sql(`
    create function witness_hierarchy() returns trigger language plpgsql as $$
    begin
      insert into hierarchy_witness ("auditId", "targetTop", "actorTop") values (new.id,
        (select coalesce(max(r.position), 0) from "ServerMemberRole" mr join "Role" r on r.id = mr."roleId"
          where mr."serverId" = new."serverId" and mr."userId" = new."targetId"),
        (select coalesce(max(r.position), 0) from "ServerMemberRole" mr join "Role" r on r.id = mr."roleId"
          where mr."serverId" = new."serverId" and mr."userId" = new."actorId"));
      return null;
    end $$`);
  // Deferred: it runs at COMMIT, after everything the transaction did and with what others committed by then.
  await db()
    .sql(`create constraint trigger witness_hierarchy after insert on "AuditLogEntry" deferrable initially deferred
                  for each row when (new."actionType" = 24) execute function witness_hierarchy()`);
});

const roles = (em: EntityManager = db().fork()) => new RoleService(em);

interface Stage {
  w: World;
  moderator: User;
  high: string;
}

/** A server whose moderator holds a role at MOD_POSITION with `permission`, and a role above it nobody holds yet. */
async function stage(permission: bigint): Promise<Stage> {
  const w = await world();
  const moderator = await joined(w, 'mod');
  await role(w.server.id, permission, MOD_POSITION, [moderator.id]);
  const high = await role(w.server.id, 0n, ABOVE_MOD, []);
  return { w, moderator, high };
}

/** A fresh member holding a role at position 1 (below the moderator). */
async function target(s: Stage, name: string): Promise<{ userId: string; roleId: string }> {
  const user = await joined(s.w, name);
  const roleId = await role(s.w.server.id, 0n, 1, [user.id]);
  return { userId: user.id, roleId };
}

async function memberRoles(serverId: string, userId: string): Promise<string[] | null> {
  const [member] = await db().sql(`select 1 from "ServerMember" where "serverId" = $1 and "userId" = $2`, [
    serverId,
    userId,
  ]);
  if (!member) return null;
  const rows = await db().sql<{ roleId: string }>(
    `select "roleId"::text as "roleId" from "ServerMemberRole" where "serverId" = $1 and "userId" = $2`,
    [serverId, userId],
  );
  return rows.map((r) => r.roleId);
}

type Removal = 'kick' | 'ban';

/** One round: the owner promotes the target above the moderator while the moderator removes the target. */
async function promotionAgainstRemoval(s: Stage, removal: Removal, round: number) {
  const t = await target(s, `${removal}t${round}`);
  const [promotion, removed] = await race<unknown>(db(), 2, (em, i) =>
    i === 0
      ? roles(em).assignRole(s.w.owner, s.w.server.id, t.userId, s.high)
      : removal === 'kick'
        ? new MembershipService(em).kick(s.moderator, s.w.server.id, t.userId)
        : new MembershipService(em).ban(s.moderator, s.w.server.id, t.userId, { reason: 'race' }),
  );
  const log = (await auditLog(s.w.server.id)).filter((e) => e.targetId === t.userId);
  const promotedLogged = log.some((e) => e.actionType === 25);
  const removedLogged = log.some((e) => e.actionType === (removal === 'kick' ? 20 : 22));
  const after = await memberRoles(s.w.server.id, t.userId);
  return { t, promotion, removed, promotedLogged, removedLogged, after };
}

async function expectSerialRemoval(removal: Removal) {
  const s = await stage(removal === 'kick' ? F.KICK_MEMBERS : F.BAN_MEMBERS);
  const outcomes = { promotedFirst: 0, removedFirst: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    const r = await promotionAgainstRemoval(s, removal, round);
    // Never both: a removal of a member promoted above the moderator, or a promotion of someone removed.
    expect({ round, promoted: r.promotedLogged, removed: r.removedLogged }).not.toMatchObject({
      promoted: true,
      removed: true,
    });
    if (r.promotion.status === 'fulfilled') {
      // Serial order: promotion, then the removal refused by the hierarchy; the member keeps the new role.
      expect(r.removed.status).toBe('rejected');
      expect((r.removed as PromiseRejectedResult).reason).toBeInstanceOf(HierarchyViolation);
      expect(r.after?.sort()).toEqual([r.t.roleId, s.high].sort());
      expect([r.promotedLogged, r.removedLogged]).toEqual([true, false]);
      outcomes.promotedFirst++;
    } else {
      // Serial order: removal, then the promotion finds no member; nothing of it was written.
      expect(r.promotion.reason).toBeInstanceOf(NotFound);
      expect(r.removed.status).toBe('fulfilled');
      expect(r.after).toBeNull();
      expect([r.promotedLogged, r.removedLogged]).toEqual([false, true]);
      outcomes.removedFirst++;
    }
  }
  expect(outcomes.promotedFirst + outcomes.removedFirst).toBe(ROUNDS);
}

describe('hierarchy under concurrency: promotion, role moves and moderation serialise (issue 16 rule 5)', () => {
  it(`promotion above the moderator racing a kick of the same member, ${ROUNDS} rounds: always one serial order`, async () => {
    await expectSerialRemoval('kick');
  });

  it(`promotion above the moderator racing a ban of the same member, ${ROUNDS} rounds: always one serial order`, async () => {
    await expectSerialRemoval('ban');
  });

  it(`a role moved above the moderator racing a timeout of its holder, ${ROUNDS} rounds: no timeout commits over a higher role`, async () => {
    const s = await stage(F.MODERATE_MEMBERS);
    for (let round = 0; round < ROUNDS; round++) {
      const t = await target(s, `tot${round}`);
      const [moved, timedOut] = await race<unknown>(db(), 2, (em, i) =>
        i === 0
          ? roles(em).reorderRoles(s.w.owner, s.w.server.id, [{ id: t.roleId, position: ABOVE_MOD }])
          : new MembershipService(em).timeout(s.moderator, s.w.server.id, t.userId, inAnHour()),
      );
      expect(moved.status).toBe('fulfilled');
      const entries = (await auditLog(s.w.server.id)).filter((e) => e.targetId === t.userId && e.actionType === 24);
      const [member] = await db().sql<{ timedOut: boolean }>(
        `select "timedOutUntil" is not null as "timedOut" from "ServerMember" where "serverId" = $1 and "userId" = $2`,
        [s.w.server.id, t.userId],
      );
      if (timedOut.status === 'rejected') {
        // Serial order: the move, then the timeout refused; it wrote nothing.
        expect(timedOut.reason).toBeInstanceOf(HierarchyViolation);
        expect(entries).toEqual([]);
        expect(member.timedOut).toBe(false);
        continue;
      }
      // Serial order: the timeout, then the move. At the timeout's commit its target still ranked below.
      expect(member.timedOut).toBe(true);
      expect(entries).toHaveLength(1);
      const witnessed = await db().sql<{ targetTop: number; actorTop: number }>(
        `select w."targetTop", w."actorTop" from hierarchy_witness w join "AuditLogEntry" a on a.id = w."auditId"
          where a."serverId" = $1 and a."targetId" = $2`,
        [s.w.server.id, t.userId],
      );
      expect({ round, witnessed }).toEqual({ round, witnessed: [{ targetTop: 1, actorTop: MOD_POSITION }] });
    }
  });
});

describe('hierarchy lock: a moderation waits for an open role change, then sees it', () => {
  /** Runs `change` in a transaction held open until the returned release is called. */
  async function holdOpen(
    change: (tx: EntityManager) => Promise<unknown>,
  ): Promise<{ release: () => void; done: Promise<unknown> }> {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let applied!: () => void;
    const written = new Promise<void>((resolve) => (applied = resolve));
    const done = db()
      .fork()
      .transactional(async (tx) => {
        await change(tx);
        applied();
        await gate;
      });
    await written;
    return { release, done };
  }

  async function settlesWithin(ms: number, p: Promise<unknown>): Promise<boolean> {
    return Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      sleep(ms).then(() => false),
    ]);
  }

  it('a kick waits for an uncommitted promotion of its target, then is refused by it', async () => {
    const s = await stage(F.KICK_MEMBERS);
    const t = await target(s, 'heldkick');
    const held = await holdOpen((tx) => roles(tx).assignRole(s.w.owner, s.w.server.id, t.userId, s.high));
    const kick = memberships().kick(s.moderator, s.w.server.id, t.userId);
    kick.catch(() => undefined);
    expect(await settlesWithin(300, kick)).toBe(false);
    held.release();
    await held.done;
    await expect(kick).rejects.toBeInstanceOf(HierarchyViolation);
    expect((await memberRoles(s.w.server.id, t.userId))?.sort()).toEqual([t.roleId, s.high].sort());
  });

  it("a timeout waits for an uncommitted move of its target's role above the moderator, then is refused by it", async () => {
    const s = await stage(F.MODERATE_MEMBERS);
    const t = await target(s, 'heldtimeout');
    const held = await holdOpen((tx) =>
      roles(tx).reorderRoles(s.w.owner, s.w.server.id, [{ id: t.roleId, position: ABOVE_MOD }]),
    );
    const timeout = memberships().timeout(s.moderator, s.w.server.id, t.userId, inAnHour());
    timeout.catch(() => undefined);
    expect(await settlesWithin(300, timeout)).toBe(false);
    held.release();
    await held.done;
    await expect(timeout).rejects.toBeInstanceOf(HierarchyViolation);
    const [member] = await db().sql<{ timedOutUntil: string | null }>(
      `select "timedOutUntil" from "ServerMember" where "serverId" = $1 and "userId" = $2`,
      [s.w.server.id, t.userId],
    );
    expect(member.timedOutUntil).toBeNull();
  });

  it("another member's nickname waits for an uncommitted move of that member's role above the moderator, then is refused by it", async () => {
    const s = await stage(F.MANAGE_NICKNAMES);
    const t = await target(s, 'heldnick');
    const held = await holdOpen((tx) =>
      roles(tx).reorderRoles(s.w.owner, s.w.server.id, [{ id: t.roleId, position: ABOVE_MOD }]),
    );
    const rename = memberships().setNickname(s.moderator, s.w.server.id, t.userId, 'renamed');
    rename.catch(() => undefined);
    expect(await settlesWithin(300, rename)).toBe(false);
    held.release();
    await held.done;
    await expect(rename).rejects.toBeInstanceOf(HierarchyViolation);
    const [row] = await db().sql<{ nickname: string | null }>(
      `select nickname from "ServerMember" where "serverId" = $1 and "userId" = $2`,
      [s.w.server.id, t.userId],
    );
    expect(row.nickname).toBeNull();
  });

  /** A voice channel made directly in the database, with `userId` in it. */
  async function inVoice(serverId: string, userId: string): Promise<string> {
    const id = nextSnowflake();
    await db().sql(
      `insert into "Channel" (id, "serverId", type, name, bitrate, "userLimit") values ($1, $2, 'GUILD_VOICE', $3,
        64000, 0)`,
      [id, serverId, `vc${id.slice(-4)}`],
    );
    await new VoiceService(db().fork()).joinVoice(userId, id);
    return id;
  }

  it('a server mute waits for an uncommitted promotion of its target, then is refused by it', async () => {
    const s = await stage(F.MUTE_MEMBERS);
    const t = await target(s, 'heldmute');
    await inVoice(s.w.server.id, t.userId);
    const held = await holdOpen((tx) => roles(tx).assignRole(s.w.owner, s.w.server.id, t.userId, s.high));
    const mute = new VoiceService(db().fork()).serverMute(s.moderator, s.w.server.id, t.userId, true);
    mute.catch(() => undefined);
    expect(await settlesWithin(300, mute)).toBe(false);
    held.release();
    await held.done;
    await expect(mute).rejects.toBeInstanceOf(HierarchyViolation);
    const [row] = await db().sql<{ mute: boolean }>(
      `select mute from "ServerMember" where "serverId" = $1 and "userId" = $2`,
      [s.w.server.id, t.userId],
    );
    expect(row.mute).toBe(false);
  });

  it("a voice move waits for an uncommitted move of its target's role above the moderator, then is refused by it", async () => {
    const s = await stage(F.MOVE_MEMBERS);
    const t = await target(s, 'heldvoicemove');
    const from = await inVoice(s.w.server.id, t.userId);
    const [{ id: to }] = await db().sql<{ id: string }>(
      `insert into "Channel" (id, "serverId", type, name, bitrate, "userLimit") values ($1, $2, 'GUILD_VOICE', 'to',
        64000, 0) returning id::text`,
      [nextSnowflake(), s.w.server.id],
    );
    const held = await holdOpen((tx) =>
      roles(tx).reorderRoles(s.w.owner, s.w.server.id, [{ id: t.roleId, position: ABOVE_MOD }]),
    );
    const move = new VoiceService(db().fork()).moveMember(s.moderator, t.userId, to);
    move.catch(() => undefined);
    expect(await settlesWithin(300, move)).toBe(false);
    held.release();
    await held.done;
    await expect(move).rejects.toBeInstanceOf(HierarchyViolation);
    const [state] = await db().sql<{ channelId: string }>(
      `select "channelId"::text as "channelId" from "VoiceState" where "userId" = $1`,
      [t.userId],
    );
    expect(state.channelId).toBe(from);
  });

  it('a role move waits for an uncommitted timeout by the moderator, which then stands', async () => {
    const s = await stage(F.MODERATE_MEMBERS);
    const t = await target(s, 'heldmove');
    const held = await holdOpen((tx) =>
      new MembershipService(tx).timeout(s.moderator, s.w.server.id, t.userId, inAnHour()),
    );
    const move = roles().reorderRoles(s.w.owner, s.w.server.id, [{ id: t.roleId, position: ABOVE_MOD }]);
    move.catch(() => undefined);
    expect(await settlesWithin(300, move)).toBe(false);
    held.release();
    await held.done;
    await move;
    const witnessed = await db().sql<{ targetTop: number; actorTop: number }>(
      `select w."targetTop", w."actorTop" from hierarchy_witness w join "AuditLogEntry" a on a.id = w."auditId"
        where a."targetId" = $1`,
      [t.userId],
    );
    expect(witnessed).toEqual([{ targetTop: 1, actorTop: MOD_POSITION }]);
  });
});
