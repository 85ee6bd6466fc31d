import { describe, expect, it } from 'vitest';
import {
  HierarchyViolation,
  LimitReached,
  MissingPermission,
  NotAMember,
  NotFound,
  ValidationFailed,
} from '../src/domain/errors';
import { permissionBits, PermissionFlags as F } from '../src/domain/permissions';
import { nextSnowflake } from '../src/domain/snowflake';
import { Channel } from '../src/entities/channel/Channel';
import { Role } from '../src/entities/server/Role';
import { User } from '../src/entities/user/User';
import { fulfilled, race, rejected, useTestDatabase } from './support/db';
import { RoleService } from '../src/servers/role-service';
import { ServerService } from '../src/servers/server-service';
import { UserService } from '../src/identity/user-service';

const db = useTestDatabase({ poolSize: 20 });

const roles = () => new RoleService(db().fork());

async function register(username: string): Promise<User> {
  return new UserService(db().fork()).register({ username });
}

async function newServer(name = 'Roles') {
  const owner = await register('owner');
  const server = await new ServerService(db().fork()).createServer(owner, { name });
  return { owner, server };
}

async function addMember(serverId: string, username: string): Promise<User> {
  const user = await register(username);
  await db().sql(`insert into "ServerMember" ("serverId", "userId") values ($1, $2)`, [serverId, user.id]);
  await db().sql(`update "Server" set "memberCount" = "memberCount" + 1 where id = $1`, [serverId]);
  return user;
}

/** A role written straight to the database (setup, not under test). */
async function insertRole(
  serverId: string,
  opts: { name?: string; permissions?: bigint; position: number; managed?: boolean; id?: string },
): Promise<string> {
  const id = opts.id ?? nextSnowflake();
  await db().sql(
    `insert into "Role" (id, "serverId", name, permissions, position, managed) values ($1, $2, $3, $4, $5, $6)`,
    [
      id,
      serverId,
      opts.name ?? `role ${opts.position}`,
      (opts.permissions ?? 0n).toString(),
      opts.position,
      opts.managed ?? false,
    ],
  );
  return id;
}

async function give(serverId: string, userId: string, roleId: string): Promise<void> {
  await db().sql(`insert into "ServerMemberRole" ("serverId", "userId", "roleId") values ($1, $2, $3)`, [
    serverId,
    userId,
    roleId,
  ]);
}

/** A member holding one fresh role with these permissions at this position. */
async function memberWithRole(serverId: string, username: string, permissions: bigint, position: number) {
  const user = await addMember(serverId, username);
  const roleId = await insertRole(serverId, { name: `${username}'s role`, permissions, position });
  await give(serverId, user.id, roleId);
  return { user, roleId };
}

async function roleRow(id: string) {
  const [row] = await db().sql<{
    name: string;
    permissions: string;
    position: number;
    color: number;
    hoist: boolean;
    mentionable: boolean;
  }>(`select name, permissions::text, position, color, hoist, mentionable from "Role" where id = $1`, [id]);
  return row;
}

async function audit(serverId: string) {
  return db().sql<{
    actionType: number;
    actorId: string;
    targetId: string;
    changes: { key: string; old?: unknown; new?: unknown }[];
    reason: string | null;
  }>(
    `select "actionType", "actorId"::text, "targetId"::text, changes, reason from "AuditLogEntry" where "serverId" = $1
      order by id`,
    [serverId],
  );
}

async function events(serverId: string, since = '0') {
  return db().sql<{ type: string; payload: Record<string, unknown> }>(
    `select type, payload from "DomainEvent" where "serverId" = $1 and id > $2 order by id`,
    [serverId, since],
  );
}

async function lastEventId(): Promise<string> {
  const [row] = await db().sql<{ id: string | null }>(`select max(id)::text as id from "DomainEvent"`);
  return row.id ?? '0';
}

async function memberRoles(serverId: string, userId: string): Promise<string[]> {
  const rows = await db().sql<{ roleId: string }>(
    `select "roleId"::text from "ServerMemberRole" where "serverId" = $1 and "userId" = $2 order by "roleId"`,
    [serverId, userId],
  );
  return rows.map((r) => r.roleId);
}

async function writes(serverId: string) {
  const [row] = await db().sql(
    `select (select count(*) from "Role" where "serverId" = $1) as roles,
            (select md5(coalesce(string_agg(r::text, ',' order by r.id), '')) from "Role" r
              where "serverId" = $1) as role_rows,
            (select count(*) from "ServerMemberRole" where "serverId" = $1) as member_roles,
            (select count(*) from "AuditLogEntry") as audit,
            (select count(*) from "DomainEvent") as events`,
    [serverId],
  );
  return row;
}

const MANAGE = F.MANAGE_ROLES;

describe('creating roles', () => {
  it('creates a role just above @everyone with its audit entry (30) and GUILD_ROLE_CREATE', async () => {
    const { owner, server } = await newServer();
    const since = await lastEventId();
    const role = await roles().createRole(
      owner,
      server.id,
      { name: 'Mods', permissions: permissionBits('KICK_MEMBERS'), color: 0xff0000, hoist: true },
      { reason: 'staffing' },
    );
    expect(await roleRow(role.id)).toEqual({
      name: 'Mods',
      permissions: F.KICK_MEMBERS.toString(),
      position: 1,
      color: 0xff0000,
      hoist: true,
      mentionable: false,
    });
    const [entry] = await audit(server.id);
    expect(entry).toMatchObject({ actionType: 30, actorId: owner.id, targetId: role.id, reason: 'staffing' });
    expect(entry.changes).toEqual(
      expect.arrayContaining([
        { key: 'name', new: 'Mods' },
        { key: 'permissions', new: F.KICK_MEMBERS.toString() },
      ]),
    );
    const types = (await events(server.id, since)).map((e) => e.type);
    expect(types.sort()).toEqual(['GUILD_AUDIT_LOG_ENTRY_CREATE', 'GUILD_ROLE_CREATE']);
  });

  it('places each new role below every existing one (equal positions rank by id)', async () => {
    const { owner, server } = await newServer();
    const mod = await memberWithRole(server.id, 'mod', MANAGE, 1);
    // The member's own role sits at position 1 too; the new role has a later id, so it ranks lower.
    const role = await roles().createRole(mod.user, server.id, { name: 'helper' });
    expect((await roleRow(role.id)).position).toBe(1);
    await roles().assignRole(mod.user, server.id, mod.user.id, role.id);
    expect(await memberRoles(server.id, mod.user.id)).toContain(role.id);
    void owner;
  });

  it('refuses bad input with ValidationFailed and writes nothing', async () => {
    const { owner, server } = await newServer();
    const before = await writes(server.id);
    const bad: unknown[] = [
      { name: '' },
      { name: '   ' },
      { name: 'x'.repeat(101) },
      { name: 42 },
      { name: 'ok', color: -1 },
      { name: 'ok', color: 0x1000000 },
      { name: 'ok', color: 1.5 },
      { name: 'ok', permissions: '-1' },
      { name: 'ok', permissions: (1n << 60n).toString() },
      { name: 'ok', permissions: 'lots' },
      { name: 'ok', hoist: 'yes' },
      { name: 'ok', mentionable: 1 },
      null,
    ];
    for (const props of bad)
      await expect(roles().createRole(owner, server.id, props as never)).rejects.toBeInstanceOf(ValidationFailed);
    await expect(
      roles().createRole(owner, server.id, { name: 'ok' }, { reason: 'r'.repeat(513) }),
    ).rejects.toBeInstanceOf(ValidationFailed);
    expect(await writes(server.id)).toEqual(before);
  });

  it('accepts names of 1 and 100 characters and colors 0 and 0xFFFFFF', async () => {
    const { owner, server } = await newServer();
    await expect(roles().createRole(owner, server.id, { name: 'a', color: 0 })).resolves.toBeInstanceOf(Role);
    await expect(
      roles().createRole(owner, server.id, { name: 'b'.repeat(100), color: 0xffffff }),
    ).resolves.toBeInstanceOf(Role);
  });

  it('refuses a non-member with NotAMember', async () => {
    const { server } = await newServer();
    const stranger = await register('stranger');
    await expect(roles().createRole(stranger, server.id, { name: 'x' })).rejects.toBeInstanceOf(NotAMember);
  });

  it('nobody grants a permission they lack: MANAGE_ROLES alone cannot create a role with BAN_MEMBERS; an administrator and the owner can', async () => {
    const { owner, server } = await newServer();
    const mod = await memberWithRole(server.id, 'mod', MANAGE | F.KICK_MEMBERS, 5);
    const admin = await memberWithRole(server.id, 'admin', F.ADMINISTRATOR, 6);
    const before = await writes(server.id);
    const error = await roles()
      .createRole(mod.user, server.id, { name: 'banners', permissions: F.BAN_MEMBERS | F.KICK_MEMBERS })
      .catch((e) => e);
    expect(error).toBeInstanceOf(MissingPermission);
    expect(error.permissions).toEqual(['BAN_MEMBERS']);
    expect(await writes(server.id)).toEqual(before);
    await expect(
      roles().createRole(mod.user, server.id, { name: 'kickers', permissions: F.KICK_MEMBERS | MANAGE }),
    ).resolves.toBeInstanceOf(Role);
    await expect(
      roles().createRole(admin.user, server.id, { name: 'banners', permissions: F.BAN_MEMBERS }),
    ).resolves.toBeInstanceOf(Role);
    await expect(
      roles().createRole(owner, server.id, { name: 'admins', permissions: F.ADMINISTRATOR }),
    ).resolves.toBeInstanceOf(Role);
  });

  it('a member with MANAGE_ROLES through @everyone but no role of their own cannot create one (it would not be below them)', async () => {
    const { server } = await newServer();
    const plain = await addMember(server.id, 'plain');
    await db().sql(`update "Role" set permissions = permissions | $2 where id = $1`, [server.id, MANAGE.toString()]);
    await expect(roles().createRole(plain, server.id, { name: 'x' })).rejects.toBeInstanceOf(HierarchyViolation);
  });

  it('holds 250 roles per server: at 249 one more is created, the next is refused', async () => {
    const { owner, server } = await newServer();
    await db().sql(
      `insert into "Role" (id, "serverId", name, permissions, position) select x.id, $1, 'filler', 0, 1
        from unnest($2::bigint[]) as x(id)`,
      [server.id, Array.from({ length: 248 }, () => nextSnowflake())],
    );
    const count = async () =>
      (await db().sql<{ n: string }>(`select count(*) as n from "Role" where "serverId" = $1`, [server.id]))[0].n;
    expect(await count()).toBe('249');
    await roles().createRole(owner, server.id, { name: 'number 250' });
    expect(await count()).toBe('250');
    const before = await writes(server.id);
    const error = await roles()
      .createRole(owner, server.id, { name: 'number 251' })
      .catch((e) => e);
    expect(error).toBeInstanceOf(LimitReached);
    expect(error.details).toMatchObject({ limit: 'roles', max: 250 });
    expect(await writes(server.id)).toEqual(before);
  });

  it('race: 12 concurrent creations at 249 roles leave exactly 250', async () => {
    const { owner, server } = await newServer();
    await db().sql(
      `insert into "Role" (id, "serverId", name, permissions, position) select x.id, $1, 'filler', 0, 1
        from unnest($2::bigint[]) as x(id)`,
      [server.id, Array.from({ length: 248 }, () => nextSnowflake())],
    );
    const results = await race(db(), 12, (em, i) =>
      new RoleService(em).createRole(owner, server.id, { name: `racer ${i}` }),
    );
    expect(fulfilled(results)).toHaveLength(1);
    const errors = rejected(results);
    expect(errors).toHaveLength(11);
    for (const e of errors) expect(e).toBeInstanceOf(LimitReached);
    const [{ n }] = await db().sql<{ n: string }>(`select count(*) as n from "Role" where "serverId" = $1`, [
      server.id,
    ]);
    expect(n).toBe('250');
    const [{ entries }] = await db().sql<{ entries: string }>(
      `select count(*) as entries from "AuditLogEntry" where "serverId" = $1 and "actionType" = 30`,
      [server.id],
    );
    expect(entries).toBe('1');
  });
});

describe('updating roles', () => {
  it('edits a role below the actor with audit 31 (only what changed) and GUILD_ROLE_UPDATE; an unchanged patch writes nothing', async () => {
    const { server } = await newServer();
    const mod = await memberWithRole(server.id, 'mod', MANAGE | F.KICK_MEMBERS, 5);
    const target = await insertRole(server.id, { name: 'low', position: 2 });
    const since = await lastEventId();
    await roles().updateRole(mod.user, server.id, target, {
      name: 'lower',
      permissions: F.KICK_MEMBERS,
      mentionable: true,
    });
    expect(await roleRow(target)).toMatchObject({
      name: 'lower',
      permissions: F.KICK_MEMBERS.toString(),
      mentionable: true,
      position: 2,
    });
    const [entry] = await audit(server.id);
    expect(entry).toMatchObject({ actionType: 31, targetId: target, actorId: mod.user.id });
    expect(entry.changes).toEqual([
      { key: 'name', old: 'low', new: 'lower' },
      { key: 'permissions', old: '0', new: F.KICK_MEMBERS.toString() },
      { key: 'mentionable', old: false, new: true },
    ]);
    const evs = await events(server.id, since);
    expect(evs.map((e) => e.type).sort()).toEqual(['GUILD_AUDIT_LOG_ENTRY_CREATE', 'GUILD_ROLE_UPDATE']);
    expect(evs.find((e) => e.type === 'GUILD_ROLE_UPDATE')!.payload.role).toMatchObject({ id: target, name: 'lower' });
    const before = await writes(server.id);
    await roles().updateRole(mod.user, server.id, target, { name: 'lower' });
    expect(await writes(server.id)).toEqual(before);
  });

  it('hierarchy: a role above, the actor’s own highest role, and an equal-position role with a lower id are refused; an equal-position role with a higher id is allowed', async () => {
    const { server } = await newServer();
    const olderPeer = await insertRole(server.id, { name: 'older peer', position: 5 }); // lower id than the mod's role
    const mod = await memberWithRole(server.id, 'mod', MANAGE, 5);
    const youngerPeer = await insertRole(server.id, { name: 'younger peer', position: 5 });
    const above = await insertRole(server.id, { name: 'above', position: 6 });
    const before = await writes(server.id);
    for (const id of [above, mod.roleId, olderPeer]) {
      await expect(roles().updateRole(mod.user, server.id, id, { name: 'renamed' })).rejects.toBeInstanceOf(
        HierarchyViolation,
      );
    }
    expect(await writes(server.id)).toEqual(before);
    await roles().updateRole(mod.user, server.id, youngerPeer, { name: 'renamed' });
    expect((await roleRow(youngerPeer)).name).toBe('renamed');
  });

  it('the owner edits any role, even one above every other, with no role of their own', async () => {
    const { owner, server } = await newServer();
    const top = await insertRole(server.id, { name: 'top', position: 200, permissions: F.ADMINISTRATOR });
    await roles().updateRole(owner, server.id, top, { name: 'summit', permissions: F.ADMINISTRATOR | F.BAN_MEMBERS });
    expect(await roleRow(top)).toMatchObject({
      name: 'summit',
      permissions: (F.ADMINISTRATOR | F.BAN_MEMBERS).toString(),
    });
  });

  it('granting what one lacks: new bits are refused, bits the role already had may stay, removing is allowed; administrators may add anything', async () => {
    const { server } = await newServer();
    const mod = await memberWithRole(server.id, 'mod', MANAGE, 5);
    const admin = await memberWithRole(server.id, 'admin', F.ADMINISTRATOR, 6);
    const target = await insertRole(server.id, { name: 'bans', position: 2, permissions: F.BAN_MEMBERS });
    const before = await writes(server.id);
    const error = await roles()
      .updateRole(mod.user, server.id, target, { permissions: F.BAN_MEMBERS | F.KICK_MEMBERS })
      .catch((e) => e);
    expect(error).toBeInstanceOf(MissingPermission);
    expect(error.permissions).toEqual(['KICK_MEMBERS']);
    expect(await writes(server.id)).toEqual(before);
    // keeps BAN_MEMBERS, adds MANAGE_ROLES (held)
    await roles().updateRole(mod.user, server.id, target, { permissions: F.BAN_MEMBERS | MANAGE });
    expect((await roleRow(target)).permissions).toBe((F.BAN_MEMBERS | MANAGE).toString());
    await roles().updateRole(mod.user, server.id, target, { permissions: 0n });
    expect((await roleRow(target)).permissions).toBe('0');
    await roles().updateRole(admin.user, server.id, target, { permissions: F.KICK_MEMBERS | F.MANAGE_GUILD });
    expect((await roleRow(target)).permissions).toBe((F.KICK_MEMBERS | F.MANAGE_GUILD).toString());
  });

  it('a member cannot raise their own role (acting on oneself) even with MANAGE_ROLES', async () => {
    const { server } = await newServer();
    const mod = await memberWithRole(server.id, 'mod', MANAGE, 5);
    await expect(roles().updateRole(mod.user, server.id, mod.roleId, { permissions: MANAGE })).rejects.toBeInstanceOf(
      HierarchyViolation,
    );
  });

  it('@everyone takes permission changes only; a managed role takes no edit but can be moved', async () => {
    const { owner, server } = await newServer();
    const managed = await insertRole(server.id, { name: 'bot', position: 3, managed: true });
    await expect(roles().updateRole(owner, server.id, server.id, { name: 'everybody' })).rejects.toBeInstanceOf(
      ValidationFailed,
    );
    await expect(roles().updateRole(owner, server.id, server.id, { color: 5 })).rejects.toBeInstanceOf(
      ValidationFailed,
    );
    await expect(roles().updateRole(owner, server.id, managed, { name: 'not a bot' })).rejects.toBeInstanceOf(
      HierarchyViolation,
    );
    await roles().updateRole(owner, server.id, server.id, { permissions: F.VIEW_CHANNEL });
    expect((await roleRow(server.id)).permissions).toBe(F.VIEW_CHANNEL.toString());
    // A managed role can still be moved (as on Discord); it is never edited, deleted or assigned by hand.
    await roles().reorderRoles(owner, server.id, [{ id: managed, position: 4 }]);
    expect((await roleRow(managed)).position).toBe(4);
  });

  it('a role of another server or no role at all is NotFound', async () => {
    const { owner, server } = await newServer('one');
    const other = await newServer('two');
    const foreign = await insertRole(other.server.id, { position: 1 });
    await expect(roles().updateRole(owner, server.id, foreign, { name: 'x' })).rejects.toBeInstanceOf(NotFound);
    await expect(roles().updateRole(owner, server.id, nextSnowflake(), { name: 'x' })).rejects.toBeInstanceOf(NotFound);
    await expect(roles().updateRole(owner, server.id, 'not-an-id', { name: 'x' })).rejects.toBeInstanceOf(
      ValidationFailed,
    );
  });
});

describe('deleting roles', () => {
  it('deletes a role below the actor: members lose it, its overwrites go (CHANNEL_UPDATE), audit 32, GUILD_ROLE_DELETE', async () => {
    const { server } = await newServer();
    const mod = await memberWithRole(server.id, 'mod', MANAGE, 5);
    const member = await addMember(server.id, 'member');
    const doomed = await insertRole(server.id, { name: 'doomed', position: 2, permissions: F.SEND_MESSAGES });
    await give(server.id, member.id, doomed);
    const [channel] = await db().sql<{ id: string }>(
      `select id::text from "Channel" where "serverId" = $1 and type = 'GUILD_TEXT'`,
      [server.id],
    );
    await db().sql(
      `insert into "PermissionOverwrite" ("channelId", "targetId", type, allow, deny) values ($1, $2, 'ROLE', 0, 2048),
        ($1, $3, 'ROLE', 1024, 0)`,
      [channel.id, doomed, server.id],
    );
    const since = await lastEventId();
    await roles().deleteRole(mod.user, server.id, doomed, { reason: 'cleanup' });
    expect(await roleRow(doomed)).toBeUndefined();
    expect(await memberRoles(server.id, member.id)).toEqual([]);
    const overwrites = await db().sql<{ targetId: string }>(
      `select "targetId"::text from "PermissionOverwrite" where "channelId" = $1`,
      [channel.id],
    );
    expect(overwrites).toEqual([{ targetId: server.id }]);
    const [entry] = await audit(server.id);
    expect(entry).toMatchObject({ actionType: 32, targetId: doomed, reason: 'cleanup' });
    expect(entry.changes).toEqual(expect.arrayContaining([{ key: 'name', old: 'doomed' }]));
    const evs = await events(server.id, since);
    expect(evs.map((e) => e.type).sort()).toEqual([
      'CHANNEL_UPDATE',
      'GUILD_AUDIT_LOG_ENTRY_CREATE',
      'GUILD_ROLE_DELETE',
    ]);
    expect(
      (evs.find((e) => e.type === 'CHANNEL_UPDATE')!.payload as { channel: { permissionOverwrites: unknown } }).channel
        .permissionOverwrites,
    ).toEqual([{ id: server.id, type: 'ROLE', allow: '1024', deny: '0' }]);
  });

  it('refuses @everyone, a managed role (even for the owner), a role not below the actor, and the actor’s own top role', async () => {
    const { owner, server } = await newServer();
    const mod = await memberWithRole(server.id, 'mod', MANAGE, 5);
    const managed = await insertRole(server.id, { name: 'bot', position: 1, managed: true });
    const peer = await insertRole(server.id, { name: 'peer', position: 5 }); // equal position, higher id: below the mod
    const above = await insertRole(server.id, { name: 'above', position: 9 });
    const before = await writes(server.id);
    await expect(roles().deleteRole(owner, server.id, server.id)).rejects.toBeInstanceOf(ValidationFailed);
    await expect(roles().deleteRole(owner, server.id, managed)).rejects.toBeInstanceOf(HierarchyViolation);
    await expect(roles().deleteRole(mod.user, server.id, above)).rejects.toBeInstanceOf(HierarchyViolation);
    await expect(roles().deleteRole(mod.user, server.id, mod.roleId)).rejects.toBeInstanceOf(HierarchyViolation);
    expect(await writes(server.id)).toEqual(before);
    await roles().deleteRole(mod.user, server.id, peer);
    await roles().deleteRole(owner, server.id, above);
    expect(await roleRow(above)).toBeUndefined();
  });
});

describe('reordering roles', () => {
  it('moves roles below the actor, one ROLE_UPDATE entry and event per role moved', async () => {
    const { server } = await newServer();
    const mod = await memberWithRole(server.id, 'mod', MANAGE, 10);
    const a = await insertRole(server.id, { name: 'a', position: 2 });
    const b = await insertRole(server.id, { name: 'b', position: 3 });
    const since = await lastEventId();
    await roles().reorderRoles(mod.user, server.id, [
      { id: a, position: 3 },
      { id: b, position: 2 },
    ]);
    expect((await roleRow(a)).position).toBe(3);
    expect((await roleRow(b)).position).toBe(2);
    const entries = await audit(server.id);
    expect(entries.map((e) => [e.actionType, e.targetId, e.changes])).toEqual([
      [31, a, [{ key: 'position', old: 2, new: 3 }]],
      [31, b, [{ key: 'position', old: 3, new: 2 }]],
    ]);
    expect((await events(server.id, since)).filter((e) => e.type === 'GUILD_ROLE_UPDATE')).toHaveLength(2);
  });

  it('refuses moving a role to or above the actor’s highest role, moving a role above the actor, their own role, or @everyone', async () => {
    const { owner, server } = await newServer();
    const mod = await memberWithRole(server.id, 'mod', MANAGE, 10);
    const low = await insertRole(server.id, { name: 'low', position: 2 });
    const high = await insertRole(server.id, { name: 'high', position: 11 });
    const before = await writes(server.id);
    // Position 10 equals the mod's; the moved role's id is higher (younger), so it would still rank below: allowed.
    // Position 11 ranks above: refused.
    await expect(roles().reorderRoles(mod.user, server.id, [{ id: low, position: 11 }])).rejects.toBeInstanceOf(
      HierarchyViolation,
    );
    await expect(roles().reorderRoles(mod.user, server.id, [{ id: high, position: 3 }])).rejects.toBeInstanceOf(
      HierarchyViolation,
    );
    await expect(roles().reorderRoles(mod.user, server.id, [{ id: mod.roleId, position: 3 }])).rejects.toBeInstanceOf(
      HierarchyViolation,
    );
    await expect(roles().reorderRoles(owner, server.id, [{ id: server.id, position: 3 }])).rejects.toBeInstanceOf(
      ValidationFailed,
    );
    await expect(roles().reorderRoles(owner, server.id, [{ id: low, position: 0 }])).rejects.toBeInstanceOf(
      ValidationFailed,
    );
    await expect(
      roles().reorderRoles(owner, server.id, [
        { id: low, position: 3 },
        { id: low, position: 4 },
      ]),
    ).rejects.toBeInstanceOf(ValidationFailed);
    expect(await writes(server.id)).toEqual(before);
    await roles().reorderRoles(mod.user, server.id, [{ id: low, position: 10 }]);
    expect((await roleRow(low)).position).toBe(10);
    await roles().reorderRoles(owner, server.id, [{ id: high, position: 1 }]);
    expect((await roleRow(high)).position).toBe(1);
  });
});

describe('assigning roles', () => {
  it('assigns and unassigns with audit 25 ($add / $remove) and GUILD_MEMBER_UPDATE; repeating writes nothing', async () => {
    const { server } = await newServer();
    const mod = await memberWithRole(server.id, 'mod', MANAGE, 5);
    const member = await addMember(server.id, 'member');
    const role = await insertRole(server.id, { name: 'helper', position: 2 });
    const since = await lastEventId();
    await roles().assignRole(mod.user, server.id, member.id, role, { reason: 'promotion' });
    expect(await memberRoles(server.id, member.id)).toEqual([role]);
    const evs = await events(server.id, since);
    expect(evs.map((e) => e.type).sort()).toEqual(['GUILD_AUDIT_LOG_ENTRY_CREATE', 'GUILD_MEMBER_UPDATE']);
    expect(evs.find((e) => e.type === 'GUILD_MEMBER_UPDATE')!.payload.member).toMatchObject({
      userId: member.id,
      roles: [role],
    });
    const before = await writes(server.id);
    await roles().assignRole(mod.user, server.id, member.id, role);
    expect(await writes(server.id)).toEqual(before);
    await roles().unassignRole(mod.user, server.id, member.id, role);
    expect(await memberRoles(server.id, member.id)).toEqual([]);
    const entries = await audit(server.id);
    expect(entries.map((e) => [e.actionType, e.targetId, e.changes, e.reason])).toEqual([
      [25, member.id, [{ key: '$add', new: [{ id: role, name: 'helper' }] }], 'promotion'],
      [25, member.id, [{ key: '$remove', new: [{ id: role, name: 'helper' }] }], null],
    ]);
  });

  it('hierarchy on the role: refuses a role above, the actor’s own top role, a lower-id role at an equal position, and a managed role (even for the owner)', async () => {
    const { owner, server } = await newServer();
    const olderPeer = await insertRole(server.id, { name: 'older peer', position: 5 });
    const mod = await memberWithRole(server.id, 'mod', MANAGE, 5);
    const youngerPeer = await insertRole(server.id, { name: 'younger peer', position: 5 });
    const above = await insertRole(server.id, { name: 'above', position: 6 });
    const managed = await insertRole(server.id, { name: 'bot', position: 1, managed: true });
    const member = await addMember(server.id, 'member');
    const before = await writes(server.id);
    for (const id of [above, mod.roleId, olderPeer, managed]) {
      await expect(roles().assignRole(mod.user, server.id, member.id, id)).rejects.toBeInstanceOf(HierarchyViolation);
    }
    await expect(roles().assignRole(owner, server.id, member.id, managed)).rejects.toBeInstanceOf(HierarchyViolation);
    await expect(roles().assignRole(owner, server.id, member.id, server.id)).rejects.toBeInstanceOf(ValidationFailed);
    expect(await writes(server.id)).toEqual(before);
    await roles().assignRole(mod.user, server.id, member.id, youngerPeer);
    expect(await memberRoles(server.id, member.id)).toEqual([youngerPeer]);
  });

  it('hierarchy on the member: refuses the owner, a member whose top role equals the actor’s, and a member above; allows oneself (roles below only)', async () => {
    const { owner, server } = await newServer();
    const mod = await memberWithRole(server.id, 'mod', MANAGE, 5);
    const low = await insertRole(server.id, { name: 'low', position: 2 });
    const twin = await addMember(server.id, 'twin');
    await give(server.id, twin.id, mod.roleId); // same highest role as the mod
    const boss = await memberWithRole(server.id, 'boss', 0n, 7);
    const before = await writes(server.id);
    for (const target of [owner.id, twin.id, boss.user.id]) {
      await expect(roles().assignRole(mod.user, server.id, target, low)).rejects.toBeInstanceOf(HierarchyViolation);
      await expect(roles().unassignRole(mod.user, server.id, target, low)).rejects.toBeInstanceOf(HierarchyViolation);
    }
    expect(await writes(server.id)).toEqual(before);
    await roles().assignRole(mod.user, server.id, mod.user.id, low);
    expect(await memberRoles(server.id, mod.user.id)).toEqual([mod.roleId, low].sort());
    await roles().unassignRole(mod.user, server.id, mod.user.id, low);
    // Taking away one's own top role is not allowed: it is not below oneself.
    await expect(roles().unassignRole(mod.user, server.id, mod.user.id, mod.roleId)).rejects.toBeInstanceOf(
      HierarchyViolation,
    );
  });

  it('the owner assigns any unmanaged role to anyone, themself included', async () => {
    const { owner, server } = await newServer();
    const top = await insertRole(server.id, { name: 'top', position: 100, permissions: F.ADMINISTRATOR });
    const boss = await memberWithRole(server.id, 'boss', F.ADMINISTRATOR, 50);
    await roles().assignRole(owner, server.id, boss.user.id, top);
    await roles().assignRole(owner, server.id, owner.id, top);
    expect(await memberRoles(server.id, owner.id)).toEqual([top]);
    expect(await memberRoles(server.id, boss.user.id)).toEqual([boss.roleId, top].sort());
  });

  it('refuses a target who is not a member with NotFound', async () => {
    const { owner, server } = await newServer();
    const role = await insertRole(server.id, { position: 2 });
    const outsider = await register('outsider');
    await expect(roles().assignRole(owner, server.id, outsider.id, role)).rejects.toBeInstanceOf(NotFound);
  });
});

describe('reading roles', () => {
  it('rolesOf lists the server’s roles highest first', async () => {
    const { server } = await newServer();
    const a = await insertRole(server.id, { position: 3 });
    const b = await insertRole(server.id, { position: 3 });
    const c = await insertRole(server.id, { position: 7 });
    const list = await db().fork().getRepository(Role).rolesOf(server.id);
    expect(list.map((r) => r.id)).toEqual([c, a, b, server.id]);
    void Channel;
  });
});
