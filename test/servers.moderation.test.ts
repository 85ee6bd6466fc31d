import { describe, expect, it } from 'vitest';
import {
  AlreadyExists,
  HierarchyViolation,
  MissingPermission,
  NotAMember,
  NotFound,
  UserBanned,
  ValidationFailed,
} from '../src/domain/errors';
import { PermissionFlags as F } from '../src/domain/permissions';
import { nextSnowflake } from '../src/domain/snowflake';
import { useTestDatabase } from './support/db';
import { membershipHelpers } from './support/membership';

const db = useTestDatabase();
const {
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
} = membershipHelpers(db);

const hour = () => new Date(Date.now() + 3600_000);

describe('kick', () => {
  it('removes a member ranked below the actor: memberCount, audit 20 with the reason, GUILD_MEMBER_REMOVE', async () => {
    const w = await world();
    const mod = await joined(w, 'mod');
    const target = await joined(w, 'target');
    await role(w.server.id, F.KICK_MEMBERS, 2, [mod.id]);
    await role(w.server.id, 0n, 1, [target.id]);
    const since = await lastEventId();
    await memberships().kick(mod, w.server.id, target, { reason: 'rude' });
    const s = await state(w.server.id);
    expect(s.memberCount).toBe(2);
    expect(s.members!.map((m) => m.userId)).not.toContain(target.id);
    expect(s.memberRoles).toBe(1); // the target's role assignment went with the membership
    expect(
      (await eventsSince(w.server.id, since)).map((e) => [e.type, e.payload.actionType ?? e.payload.reason]),
    ).toEqual([
      ['GUILD_MEMBER_REMOVE', 'kick'],
      ['GUILD_AUDIT_LOG_ENTRY_CREATE', 20],
    ]);
    expect((await auditLog(w.server.id)).at(-1)).toEqual({
      actionType: 20,
      actorId: mod.id,
      targetId: target.id,
      changes: [],
      reason: 'rude',
    });
  });

  it('needs KICK_MEMBERS', async () => {
    const w = await world();
    const member = await joined(w);
    const target = await joined(w, 'target');
    await role(w.server.id, F.BAN_MEMBERS | F.MANAGE_ROLES, 5, [member.id]);
    await refusedUnchanged(w.server.id, () => memberships().kick(member, w.server.id, target), MissingPermission, {
      permission: 'KICK_MEMBERS',
    });
  });

  it('hierarchy: equal positions order by id, a shared top role protects, the owner is untouchable, nobody kicks themself', async () => {
    const w = await world();
    const [a, b, c] = [await joined(w, 'a'), await joined(w, 'b'), await joined(w, 'c')];
    // two roles at the same position: the lower id (older) ranks higher
    const older = nextSnowflake();
    const younger = nextSnowflake();
    await role(w.server.id, F.KICK_MEMBERS, 3, [a.id], older);
    await role(w.server.id, F.KICK_MEMBERS, 3, [b.id], younger);
    await refusedUnchanged(w.server.id, () => memberships().kick(b, w.server.id, a), HierarchyViolation, {
      reason: "the member's highest role is not below yours",
    });
    // the same top role: neither outranks the other
    const shared = await role(w.server.id, F.KICK_MEMBERS, 4, []);
    await db().sql(
      `insert into "ServerMemberRole" ("serverId", "userId", "roleId") values ($1, $2, $4), ($1, $3, $4)`,
      [w.server.id, a.id, c.id, shared],
    );
    await refusedUnchanged(w.server.id, () => memberships().kick(a, w.server.id, c), HierarchyViolation);
    await refusedUnchanged(w.server.id, () => memberships().kick(c, w.server.id, a), HierarchyViolation);
    // the owner cannot be kicked, even by an administrator at the top; nobody kicks themself, not even the owner
    await role(w.server.id, F.ADMINISTRATOR, 9, [c.id]);
    await refusedUnchanged(w.server.id, () => memberships().kick(c, w.server.id, w.owner), HierarchyViolation, {
      details: { refusal: 'target-is-owner' },
    });
    await refusedUnchanged(w.server.id, () => memberships().kick(c, w.server.id, c), HierarchyViolation, {
      details: { refusal: 'self' },
    });
    await refusedUnchanged(w.server.id, () => memberships().kick(w.owner, w.server.id, w.owner), HierarchyViolation, {
      details: { refusal: 'self' },
    });
    // permitted directions
    await memberships().kick(a, w.server.id, b);
    await memberships().kick(w.owner, w.server.id, c); // the owner acts on everyone, administrators included
    expect((await state(w.server.id)).members!.map((m) => m.userId).sort()).toEqual([w.owner.id, a.id].sort());
  });

  it('a member without roles cannot kick another member without roles, even with KICK_MEMBERS on @everyone', async () => {
    const w = await world();
    const [a, b] = [await joined(w, 'a'), await joined(w, 'b')];
    await db().sql(`update "Role" set permissions = permissions | $2 where id = $1`, [
      w.server.id,
      F.KICK_MEMBERS.toString(),
    ]);
    await refusedUnchanged(w.server.id, () => memberships().kick(a, w.server.id, b), HierarchyViolation);
  });

  it('refuses unknown targets, strangers and bad reasons', async () => {
    const w = await world();
    const outsider = await register('outsider');
    await refusedUnchanged(w.server.id, () => memberships().kick(w.owner, w.server.id, outsider), NotFound);
    await refusedUnchanged(w.server.id, () => memberships().kick(outsider, w.server.id, w.owner), NotAMember);
    const target = await joined(w);
    await refusedUnchanged(
      w.server.id,
      () => memberships().kick(w.owner, w.server.id, target, { reason: '' }),
      ValidationFailed,
    );
    await refusedUnchanged(
      w.server.id,
      () => memberships().kick(w.owner, w.server.id, target, { reason: 'x'.repeat(513) }),
      ValidationFailed,
    );
    await refusedUnchanged(w.server.id, () => memberships().kick(w.owner, w.server.id, 'not-an-id'), ValidationFailed);
    await memberships().kick(w.owner, w.server.id, target, { reason: 'x'.repeat(512) });
  });

  it('member.kick delegates, taking a membership as the target', async () => {
    const w = await world();
    const target = await joined(w);
    const em = db().fork();
    const owner = await loadMember(w.server.id, w.owner.id, em);
    await owner.kick(await loadMember(w.server.id, target.id, em), { reason: 'bye' });
    expect((await state(w.server.id)).memberCount).toBe(1);
  });
});

describe('ban and unban', () => {
  it('bans a member: ban row, membership removed, audit 22 with delete_message_seconds, GUILD_BAN_ADD and GUILD_MEMBER_REMOVE', async () => {
    const w = await world();
    const mod = await joined(w, 'mod');
    const target = await joined(w, 'target');
    await role(w.server.id, F.BAN_MEMBERS, 1, [mod.id]);
    const since = await lastEventId();
    const ban = await memberships().ban(mod, w.server.id, target, { reason: 'raid', deleteMessageSeconds: 3600 });
    expect(ban.user.id).toBe(target.id);
    const s = await state(w.server.id);
    expect(s.bans).toEqual([{ userId: target.id, reason: 'raid' }]);
    expect(s.memberCount).toBe(2);
    expect(s.members!.map((m) => m.userId)).not.toContain(target.id);
    const [row] = await db().sql(`select "executorId"::text from "Ban" where "serverId" = $1`, [w.server.id]);
    expect(row).toEqual({ executorId: mod.id });
    const events = await eventsSince(w.server.id, since);
    expect(events.map((e) => e.type)).toEqual(['GUILD_MEMBER_REMOVE', 'GUILD_BAN_ADD', 'GUILD_AUDIT_LOG_ENTRY_CREATE']);
    expect(events[1].payload).toEqual({
      serverId: w.server.id,
      userId: target.id,
      reason: 'raid',
      deleteMessageSeconds: 3600,
    });
    expect((await auditLog(w.server.id)).at(-1)).toEqual({
      actionType: 22,
      actorId: mod.id,
      targetId: target.id,
      changes: [{ key: 'delete_message_seconds', new: 3600 }],
      reason: 'raid',
    });
  });

  it('bans a user who is not a member, as Discord allows; they cannot join later', async () => {
    const w = await world();
    const raider = await register('raider');
    const since = await lastEventId();
    await memberships().ban(w.owner, w.server.id, raider.id, { reason: 'known raider' });
    expect((await eventsSince(w.server.id, since)).map((e) => e.type)).toEqual([
      'GUILD_BAN_ADD',
      'GUILD_AUDIT_LOG_ENTRY_CREATE',
    ]);
    expect((await state(w.server.id)).memberCount).toBe(1);
    await refusedUnchanged(w.server.id, () => memberships().acceptInvite(raider, w.code), UserBanned);
    await refusedUnchanged(
      w.server.id,
      () => memberships().ban(w.owner, w.server.id, raider, { reason: 'again' }),
      AlreadyExists,
    );
    await refusedUnchanged(
      w.server.id,
      () => memberships().ban(w.owner, w.server.id, '999999999', { reason: 'ghost' }),
      NotFound,
    );
  });

  it('requires a reason of 1-512 characters and a deleteMessageSeconds of 0-604800', async () => {
    const w = await world();
    const target = await joined(w);
    const bad: unknown[] = [
      undefined,
      {},
      { reason: '' },
      { reason: 'x'.repeat(513) },
      { reason: 42 },
      { reason: 'ok', deleteMessageSeconds: -1 },
      { reason: 'ok', deleteMessageSeconds: 604801 },
      { reason: 'ok', deleteMessageSeconds: 1.5 },
      { reason: 'ok', deleteMessageSeconds: '60' },
    ];
    for (const options of bad) {
      await refusedUnchanged(
        w.server.id,
        () => memberships().ban(w.owner, w.server.id, target, options as { reason: string }),
        ValidationFailed,
      );
    }
    await memberships().ban(w.owner, w.server.id, target, { reason: 'x'.repeat(512), deleteMessageSeconds: 604800 });
  });

  it('needs BAN_MEMBERS and respects the hierarchy', async () => {
    const w = await world();
    const [mod, peer, low] = [await joined(w, 'mod'), await joined(w, 'peer'), await joined(w, 'low')];
    await refusedUnchanged(
      w.server.id,
      () => memberships().ban(mod, w.server.id, low, { reason: 'r' }),
      MissingPermission,
      { permission: 'BAN_MEMBERS' },
    );
    const top = await role(w.server.id, F.BAN_MEMBERS | F.KICK_MEMBERS, 2, [mod.id]);
    await db().sql(`insert into "ServerMemberRole" ("serverId", "userId", "roleId") values ($1, $2, $3)`, [
      w.server.id,
      peer.id,
      top,
    ]);
    await refusedUnchanged(
      w.server.id,
      () => memberships().ban(mod, w.server.id, peer, { reason: 'r' }),
      HierarchyViolation,
    );
    await refusedUnchanged(
      w.server.id,
      () => memberships().ban(mod, w.server.id, mod, { reason: 'r' }),
      HierarchyViolation,
      { details: { refusal: 'self' } },
    );
    await refusedUnchanged(
      w.server.id,
      () => memberships().ban(mod, w.server.id, w.owner, { reason: 'r' }),
      HierarchyViolation,
      { details: { refusal: 'target-is-owner' } },
    );
    await memberships().ban(mod, w.server.id, low, { reason: 'r' });
  });

  it('unban needs BAN_MEMBERS, writes audit 23 and GUILD_BAN_REMOVE, and lets the user join again', async () => {
    const w = await world();
    const user = await joined(w, 'redeemed');
    const mod = await joined(w, 'mod');
    await memberships().ban(w.owner, w.server.id, user, { reason: 'cool off' });
    await refusedUnchanged(w.server.id, () => memberships().unban(mod, w.server.id, user), MissingPermission, {
      permission: 'BAN_MEMBERS',
    });
    await refusedUnchanged(w.server.id, () => memberships().unban(w.owner, w.server.id, mod), NotFound);
    await role(w.server.id, F.BAN_MEMBERS, 1, [mod.id]);
    const since = await lastEventId();
    await memberships().unban(mod, w.server.id, user, { reason: 'served time' });
    expect((await state(w.server.id)).bans).toBeNull();
    const events = await eventsSince(w.server.id, since);
    expect(events.map((e) => e.type)).toEqual(['GUILD_BAN_REMOVE', 'GUILD_AUDIT_LOG_ENTRY_CREATE']);
    expect(events[0].payload).toEqual({ serverId: w.server.id, userId: user.id });
    expect((await auditLog(w.server.id)).at(-1)).toEqual({
      actionType: 23,
      actorId: mod.id,
      targetId: user.id,
      changes: [],
      reason: 'served time',
    });
    await memberships().acceptInvite(user, w.code);
  });

  it('member.ban and member.unban delegate', async () => {
    const w = await world();
    const target = await joined(w);
    const owner = await loadMember(w.server.id, w.owner.id);
    await owner.ban(target, { reason: 'entity' });
    expect((await state(w.server.id)).bans).toEqual([{ userId: target.id, reason: 'entity' }]);
    await owner.unban(target);
    expect((await state(w.server.id)).bans).toBeNull();
  });
});

describe('timeout', () => {
  it('times a member out with MODERATE_MEMBERS: audit 24 with the change, GUILD_MEMBER_UPDATE; null lifts it', async () => {
    const w = await world();
    const mod = await joined(w, 'mod');
    const target = await joined(w, 'target');
    await role(w.server.id, F.MODERATE_MEMBERS, 1, [mod.id]);
    const until = hour();
    const since = await lastEventId();
    const member = await memberships().timeout(mod, w.server.id, target, until, { reason: 'cool down' });
    expect(member.timedOutUntil?.toISOString()).toBe(until.toISOString());
    const [row] = await db().sql<{ until: Date }>(
      `select "timedOutUntil" as until from "ServerMember" where "serverId" = $1 and "userId" = $2`,
      [w.server.id, target.id],
    );
    expect(row.until.toISOString()).toBe(until.toISOString());
    const events = await eventsSince(w.server.id, since);
    expect(events.map((e) => e.type)).toEqual(['GUILD_MEMBER_UPDATE', 'GUILD_AUDIT_LOG_ENTRY_CREATE']);
    expect(events[0].payload).toMatchObject({ member: { userId: target.id, timedOutUntil: until.toISOString() } });
    expect((await auditLog(w.server.id)).at(-1)).toEqual({
      actionType: 24,
      actorId: mod.id,
      targetId: target.id,
      changes: [{ key: 'communication_disabled_until', old: null, new: until.toISOString() }],
      reason: 'cool down',
    });
    await memberships().timeout(mod, w.server.id, target, null);
    expect((await auditLog(w.server.id)).at(-1)!.changes).toEqual([
      { key: 'communication_disabled_until', old: until.toISOString(), new: null },
    ]);
    // lifting a timeout that is not there changes nothing and writes nothing
    const before = await state(w.server.id);
    await memberships().timeout(mod, w.server.id, target, null);
    expect(await state(w.server.id)).toEqual(before);
  });

  it('accepts up to 28 days ahead and refuses more, the past and non-dates', async () => {
    const w = await world();
    const target = await joined(w);
    for (const until of [
      new Date(Date.now() + 28 * 86400_000 + 60_000),
      new Date(Date.now() - 1000),
      new Date(NaN),
      '2030-01-01',
      0,
    ]) {
      await refusedUnchanged(
        w.server.id,
        () => memberships().timeout(w.owner, w.server.id, target, until as Date),
        ValidationFailed,
      );
    }
    await memberships().timeout(w.owner, w.server.id, target, new Date(Date.now() + 28 * 86400_000 - 60_000));
  });

  it('needs MODERATE_MEMBERS, respects the hierarchy, and never times out an administrator', async () => {
    const w = await world();
    const [mod, admin, low] = [await joined(w, 'mod'), await joined(w, 'admin'), await joined(w, 'low')];
    await refusedUnchanged(w.server.id, () => memberships().timeout(mod, w.server.id, low, hour()), MissingPermission, {
      permission: 'MODERATE_MEMBERS',
    });
    await role(w.server.id, F.MODERATE_MEMBERS, 5, [mod.id]);
    await role(w.server.id, F.ADMINISTRATOR, 1, [admin.id]);
    await refusedUnchanged(
      w.server.id,
      () => memberships().timeout(mod, w.server.id, admin, hour()),
      HierarchyViolation,
      { details: { refusal: 'target-is-administrator' } },
    );
    await refusedUnchanged(
      w.server.id,
      () => memberships().timeout(w.owner, w.server.id, admin, hour()),
      HierarchyViolation,
    );
    await refusedUnchanged(
      w.server.id,
      () => memberships().timeout(mod, w.server.id, mod, hour()),
      HierarchyViolation,
      { details: { refusal: 'self' } },
    );
    await refusedUnchanged(
      w.server.id,
      () => memberships().timeout(mod, w.server.id, w.owner, hour()),
      HierarchyViolation,
      { details: { refusal: 'target-is-owner' } },
    );
    await refusedUnchanged(
      w.server.id,
      () => memberships().timeout(admin, w.server.id, mod, hour()),
      HierarchyViolation,
      { details: { refusal: 'not-above-target' } },
    );
    await memberships().timeout(mod, w.server.id, low, hour());
  });

  it('a timed-out moderator loses their moderation permissions until the timeout ends', async () => {
    const w = await world();
    const [mod, low] = [await joined(w, 'mod'), await joined(w, 'low')];
    await role(w.server.id, F.KICK_MEMBERS, 2, [mod.id]);
    await memberships().timeout(w.owner, w.server.id, mod, hour());
    await refusedUnchanged(w.server.id, () => memberships().kick(mod, w.server.id, low), MissingPermission, {
      permission: 'KICK_MEMBERS',
    });
    await db().sql(`update "ServerMember" set "timedOutUntil" = now() - interval '1 second' where "userId" = $1`, [
      mod.id,
    ]);
    await memberships().kick(mod, w.server.id, low);
  });
});

describe('permission matrix: every moderation action without its permission is refused and writes nothing', () => {
  it('kick, ban, unban, timeout, nickname of others, server update, invite creation', async () => {
    const w = await world();
    const actor = await joined(w, 'powerless');
    const victim = await joined(w, 'victim');
    const banned = await register('banned');
    await memberships().ban(w.owner, w.server.id, banned, { reason: 'r' });
    await setEveryone(w.server.id, F.VIEW_CHANNEL);
    await role(w.server.id, F.VIEW_CHANNEL, 9, [actor.id]); // outranks the victim: only the permission is missing
    const cases: [string, () => Promise<unknown>][] = [
      ['KICK_MEMBERS', () => memberships().kick(actor, w.server.id, victim)],
      ['BAN_MEMBERS', () => memberships().ban(actor, w.server.id, victim, { reason: 'r' })],
      ['BAN_MEMBERS', () => memberships().unban(actor, w.server.id, banned)],
      ['MODERATE_MEMBERS', () => memberships().timeout(actor, w.server.id, victim, hour())],
      ['MANAGE_NICKNAMES', () => memberships().setNickname(actor, w.server.id, victim, 'renamed')],
      ['CHANGE_NICKNAME', () => memberships().setNickname(actor, w.server.id, actor, 'me')],
      ['MANAGE_GUILD', () => servers().updateServer(actor, w.server.id, { name: 'Taken over' })],
      ['CREATE_INSTANT_INVITE', () => invites().createInvite(actor, w.textId)],
    ];
    for (const [permission, action] of cases) {
      await refusedUnchanged(w.server.id, action, MissingPermission, { permission });
    }
  });
});
