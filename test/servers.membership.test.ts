import { describe, expect, it } from 'vitest';
import {
  HierarchyViolation,
  MissingPermission,
  NotAMember,
  NotFound,
  OwnerCannotLeave,
  ValidationFailed,
} from '../src/domain/errors';
import { DEFAULT_EVERYONE_PERMISSIONS, PermissionFlags as F } from '../src/domain/permissions';
import { User } from '../src/entities/user/User';
import { ServerMember } from '../src/entities/server/ServerMember';
import { useTestDatabase } from './support/db';
import { membershipHelpers } from './support/membership';

const db = useTestDatabase();
const {
  register,
  memberships,
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

describe('leave', () => {
  it('removes the membership, decrements memberCount, records GUILD_MEMBER_REMOVE and no audit entry', async () => {
    const w = await world();
    const user = await joined(w);
    await role(w.server.id, 0n, 1, [user.id]);
    const auditBefore = (await state(w.server.id)).audit;
    const since = await lastEventId();
    await memberships().leave(user, w.server.id);
    const s = await state(w.server.id);
    expect(s.memberCount).toBe(1);
    expect(s.members!.map((m) => m.userId)).toEqual([w.owner.id]);
    expect(s.memberRoles).toBe(0);
    expect(s.audit).toBe(auditBefore);
    const events = await eventsSince(w.server.id, since);
    expect(events.map((e) => [e.type, e.payload])).toEqual([
      ['GUILD_MEMBER_REMOVE', { serverId: w.server.id, userId: user.id, reason: 'leave' }],
    ]);
    // and can come back
    await memberships().acceptInvite(user, w.code);
    expect((await state(w.server.id)).memberCount).toBe(2);
  });

  it('the owner cannot leave; a non-member cannot leave', async () => {
    const w = await world();
    await refusedUnchanged(w.server.id, () => memberships().leave(w.owner, w.server.id), OwnerCannotLeave);
    const stranger = await register('stranger');
    await refusedUnchanged(w.server.id, () => memberships().leave(stranger, w.server.id), NotAMember);
    await refusedUnchanged(w.server.id, () => memberships().leave(stranger, 'x'), ValidationFailed);
  });

  it('user.leaveServer and member.leave delegate', async () => {
    const w = await world();
    const [a, b] = [await joined(w, 'a'), await joined(w, 'b')];
    const em = db().fork();
    await (await em.findOneOrFail(User, a.id)).leaveServer(w.server);
    await (await loadMember(w.server.id, b.id, em)).leave();
    expect((await state(w.server.id)).memberCount).toBe(1);
  });
});

describe('nicknames', () => {
  it('a member sets and clears their own nickname with CHANGE_NICKNAME: audit 24 (nick), GUILD_MEMBER_UPDATE', async () => {
    const w = await world();
    const user = await joined(w);
    const since = await lastEventId();
    const member = await memberships().setNickname(user, w.server.id, user, '  Captain  ');
    expect(member.nickname).toBe('Captain');
    expect((await state(w.server.id)).members!.find((m) => m.userId === user.id)!.nickname).toBe('Captain');
    const events = await eventsSince(w.server.id, since);
    expect(events.map((e) => e.type)).toEqual(['GUILD_MEMBER_UPDATE', 'GUILD_AUDIT_LOG_ENTRY_CREATE']);
    expect(events[0].payload).toMatchObject({ member: { userId: user.id, nickname: 'Captain' } });
    expect((await auditLog(w.server.id)).at(-1)).toEqual({
      actionType: 24,
      actorId: user.id,
      targetId: user.id,
      changes: [{ key: 'nick', old: null, new: 'Captain' }],
      reason: null,
    });
    await (await loadMember(w.server.id, user.id)).setNickname(null);
    expect((await auditLog(w.server.id)).at(-1)!.changes).toEqual([{ key: 'nick', old: 'Captain', new: null }]);
    // setting the same value writes nothing
    const before = await state(w.server.id);
    await memberships().setNickname(user, w.server.id, user, null);
    expect(await state(w.server.id)).toEqual(before);
  });

  it('refuses nicknames that are empty, longer than 32 characters, control characters or not strings', async () => {
    const w = await world();
    const user = await joined(w);
    for (const nick of ['', '   ', 'n'.repeat(33), 'bad\nname', 42, undefined]) {
      await refusedUnchanged(
        w.server.id,
        () => memberships().setNickname(user, w.server.id, user, nick as string),
        ValidationFailed,
      );
    }
    await memberships().setNickname(user, w.server.id, user, '😀'.repeat(32));
  });

  it('refuses nicknames with invisible code points or that look like a reserved name, as display names do', async () => {
    const w = await world();
    const user = await joined(w);
    for (const nick of ['Cap\u200btain', '\u3164', 'soft\u00adhyphen', 'ｅｖｅｒｙｏｎｅ', 'еvеrуоnе', 'HERE']) {
      await refusedUnchanged(
        w.server.id,
        () => memberships().setNickname(user, w.server.id, user, nick),
        ValidationFailed,
      );
    }
    expect((await memberships().setNickname(user, w.server.id, user, 'Here and there')).nickname).toBe(
      'Here and there',
    );
  });

  it('CHANGE_NICKNAME for oneself; MANAGE_NICKNAMES alone does not cover it', async () => {
    const w = await world();
    const user = await joined(w);
    await setEveryone(w.server.id, DEFAULT_EVERYONE_PERMISSIONS & ~F.CHANGE_NICKNAME);
    await role(w.server.id, F.MANAGE_NICKNAMES, 1, [user.id]);
    await refusedUnchanged(
      w.server.id,
      () => memberships().setNickname(user, w.server.id, user, 'me'),
      MissingPermission,
      { permission: 'CHANGE_NICKNAME' },
    );
    await memberships().setNickname(w.owner, w.server.id, w.owner, 'boss'); // the owner has every permission
  });

  it("another member's nickname needs MANAGE_NICKNAMES and a higher rank; never the owner's", async () => {
    const w = await world();
    const [mod, peer, low] = [await joined(w, 'mod'), await joined(w, 'peer'), await joined(w, 'low')];
    await refusedUnchanged(
      w.server.id,
      () => memberships().setNickname(mod, w.server.id, low, 'x'),
      MissingPermission,
      { permission: 'MANAGE_NICKNAMES' },
    );
    const top = await role(w.server.id, F.MANAGE_NICKNAMES, 3, [mod.id]);
    await db().sql(`insert into "ServerMemberRole" ("serverId", "userId", "roleId") values ($1, $2, $3)`, [
      w.server.id,
      peer.id,
      top,
    ]);
    await refusedUnchanged(
      w.server.id,
      () => memberships().setNickname(mod, w.server.id, peer, 'x'),
      HierarchyViolation,
    );
    await refusedUnchanged(
      w.server.id,
      () => memberships().setNickname(mod, w.server.id, w.owner, 'x'),
      HierarchyViolation,
      { details: { refusal: 'target-is-owner' } },
    );
    await refusedUnchanged(
      w.server.id,
      async () => memberships().setNickname(mod, w.server.id, await register('nobody'), 'x'),
      NotFound,
    );
    await memberships().setNickname(mod, w.server.id, low, 'Newbie', { reason: 'welcome' });
    expect((await auditLog(w.server.id)).at(-1)).toEqual({
      actionType: 24,
      actorId: mod.id,
      targetId: low.id,
      changes: [{ key: 'nick', old: null, new: 'Newbie' }],
      reason: 'welcome',
    });
    await (await loadMember(w.server.id, w.owner.id)).setNicknameOf(peer, 'Peer');
    expect((await state(w.server.id)).members!.find((m) => m.userId === peer.id)!.nickname).toBe('Peer');
  });
});

describe('server settings, ownership and deletion', () => {
  it('updateServer with MANAGE_GUILD: audit 1 with the changed keys, GUILD_UPDATE', async () => {
    const w = await world();
    const admin = await joined(w, 'admin');
    await role(w.server.id, F.MANAGE_GUILD, 1, [admin.id]);
    const since = await lastEventId();
    const server = await servers().updateServer(
      admin,
      w.server.id,
      { name: 'Renamed', description: 'A place', icon: 'abc123', verificationLevel: 2, banner: null },
      { reason: 'rebrand' },
    );
    expect(server.name).toBe('Renamed');
    expect((await state(w.server.id)).server).toMatchObject({
      name: 'Renamed',
      description: 'A place',
      icon: 'abc123',
      banner: null,
      verificationLevel: 2,
    });
    const events = await eventsSince(w.server.id, since);
    expect(events.map((e) => e.type)).toEqual(['GUILD_UPDATE', 'GUILD_AUDIT_LOG_ENTRY_CREATE']);
    expect(events[0].payload).toMatchObject({
      server: { id: w.server.id, name: 'Renamed', verificationLevel: 2, memberCount: 2 },
    });
    expect((await auditLog(w.server.id)).at(-1)).toEqual({
      actionType: 1,
      actorId: admin.id,
      targetId: w.server.id,
      changes: [
        { key: 'name', old: 'Guild', new: 'Renamed' },
        { key: 'description', old: null, new: 'A place' },
        { key: 'icon_hash', old: null, new: 'abc123' },
        { key: 'verification_level', old: 0, new: 2 },
      ],
      reason: 'rebrand',
    });
    // nothing changed: nothing written
    const before = await state(w.server.id);
    await servers().updateServer(admin, w.server.id, { name: 'Renamed' });
    expect(await state(w.server.id)).toEqual(before);
  });

  it('updateServer refuses bad values, unknown keys, strangers and members without MANAGE_GUILD', async () => {
    const w = await world();
    const bad: unknown[] = [
      { name: 'x' },
      { name: 'y'.repeat(101) },
      { verificationLevel: 5 },
      { verificationLevel: -1 },
      { description: 'd'.repeat(121) },
      { icon: '' },
      { icon: 'a b' },
      { memberCount: 9 },
      { ownerId: '1' },
      null,
      'name',
    ];
    for (const changes of bad) {
      await refusedUnchanged(
        w.server.id,
        () => servers().updateServer(w.owner, w.server.id, changes as object),
        ValidationFailed,
      );
    }
    const member = await joined(w);
    await refusedUnchanged(
      w.server.id,
      () => servers().updateServer(member, w.server.id, { name: 'Mine' }),
      MissingPermission,
      { permission: 'MANAGE_GUILD' },
    );
    await refusedUnchanged(
      w.server.id,
      async () => servers().updateServer(await register('stranger'), w.server.id, { name: 'Mine' }),
      NotAMember,
    );
    await refusedUnchanged(w.server.id, () => servers().updateServer(w.owner, '12345', { name: 'Mine' }), NotFound);
  });

  it('transferOwnership: only the owner, only to another member; audit 1 (owner_id), GUILD_UPDATE; then the old owner may leave', async () => {
    const w = await world();
    const [heir, admin] = [await joined(w, 'heir'), await joined(w, 'admin')];
    await role(w.server.id, F.ADMINISTRATOR, 5, [admin.id]);
    await refusedUnchanged(
      w.server.id,
      () => servers().transferOwnership(admin, w.server.id, admin),
      HierarchyViolation,
      { details: { refusal: 'not-owner' } },
    );
    await refusedUnchanged(
      w.server.id,
      () => servers().transferOwnership(w.owner, w.server.id, w.owner),
      ValidationFailed,
    );
    await refusedUnchanged(
      w.server.id,
      async () => servers().transferOwnership(w.owner, w.server.id, await register('outsider')),
      NotFound,
    );
    const since = await lastEventId();
    const server = await (await loadMember(w.server.id, w.owner.id)).transferOwnership(heir, { reason: 'retiring' });
    expect(server.owner.id).toBe(heir.id);
    expect((await state(w.server.id)).server).toMatchObject({ ownerId: heir.id });
    expect((await eventsSince(w.server.id, since)).map((e) => e.type)).toEqual([
      'GUILD_UPDATE',
      'GUILD_AUDIT_LOG_ENTRY_CREATE',
    ]);
    expect((await auditLog(w.server.id)).at(-1)).toEqual({
      actionType: 1,
      actorId: w.owner.id,
      targetId: w.server.id,
      changes: [{ key: 'owner_id', old: w.owner.id, new: heir.id }],
      reason: 'retiring',
    });
    // the new owner is above every rule; the old one is an ordinary member now
    await refusedUnchanged(w.server.id, () => memberships().leave(heir, w.server.id), OwnerCannotLeave);
    await refusedUnchanged(
      w.server.id,
      () => servers().transferOwnership(w.owner, w.server.id, admin),
      HierarchyViolation,
    );
    await memberships().kick(heir, w.server.id, admin);
    await memberships().leave(w.owner, w.server.id);
    expect((await state(w.server.id)).memberCount).toBe(1);
  });

  it('deleteServer: only the owner; everything of the server goes; GUILD_DELETE', async () => {
    const w = await world();
    const [admin, banned] = [await joined(w, 'admin'), await joined(w, 'banned')];
    await role(w.server.id, F.ADMINISTRATOR, 5, [admin.id]);
    await memberships().ban(w.owner, w.server.id, banned, { reason: 'r' });
    await db().sql(
      `insert into "PermissionOverwrite" ("channelId", "targetId", type, allow, deny) values ($1, $2, 'MEMBER', 0, 0)`,
      [w.textId, admin.id],
    );
    await refusedUnchanged(w.server.id, () => servers().deleteServer(admin, w.server.id), HierarchyViolation, {
      details: { refusal: 'not-owner' },
    });
    await refusedUnchanged(w.server.id, () => servers().deleteServer(banned, w.server.id), NotAMember);
    const since = await lastEventId();
    await (await loadMember(w.server.id, w.owner.id)).deleteServer();
    const tables = [
      'Server',
      'Role',
      'ServerMember',
      'ServerMemberRole',
      'Channel',
      'Invite',
      'Ban',
      'AuditLogEntry',
      'Emoji',
      'Sticker',
    ];
    for (const table of tables) {
      const column = table === 'Server' ? 'id' : '"serverId"';
      const [{ n }] = await db().sql<{ n: number }>(`select count(*)::int as n from "${table}" where ${column} = $1`, [
        w.server.id,
      ]);
      expect([table, n]).toEqual([table, 0]);
    }
    expect(await db().sql(`select 1 from "PermissionOverwrite" where "channelId" = $1`, [w.textId])).toEqual([]);
    expect((await eventsSince(w.server.id, since)).map((e) => [e.type, e.payload])).toEqual([
      ['GUILD_DELETE', { id: w.server.id }],
    ]);
    // the users themselves stay
    expect(
      await db().sql(`select count(*)::int as n from "User" where id = any($1)`, [[w.owner.id, admin.id, banned.id]]),
    ).toEqual([{ n: 3 }]);
  });
});

describe('membersOf', () => {
  it('pages by (joinedAt, userId): members who joined in the same instant are neither skipped nor repeated', async () => {
    const w = await world();
    const joiners = [];
    for (let i = 0; i < 5; i++) joiners.push(await joined(w, `pager${i}`));
    await db().sql(`update "ServerMember" set "joinedAt" = '2026-01-01T00:00:00Z' where "serverId" = $1`, [
      w.server.id,
    ]);
    const seen: string[] = [];
    let after: ServerMember | undefined;
    for (;;) {
      const page = await db().fork().getRepository(ServerMember).membersOf(w.server.id, { limit: 2, after });
      if (page.length === 0) break;
      seen.push(...page.map((m) => m.user.id));
      after = page[page.length - 1];
    }
    expect(seen.length).toBe(6);
    expect([...seen].sort()).toEqual([w.owner.id, ...joiners.map((u) => u.id)].sort());
  });

  it('refuses a malformed cursor with ValidationFailed', async () => {
    const w = await world();
    await expect(
      db()
        .fork()
        .getRepository(ServerMember)
        .membersOf(w.server.id, { after: { joinedAt: new Date(NaN), userId: w.owner.id } }),
    ).rejects.toBeInstanceOf(ValidationFailed);
    await expect(
      db()
        .fork()
        .getRepository(ServerMember)
        .membersOf(w.server.id, { after: { joinedAt: new Date(), userId: 'x' } }),
    ).rejects.toBeInstanceOf(ValidationFailed);
  });
});
