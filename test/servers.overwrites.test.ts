import { describe, expect, it } from 'vitest';
import { MissingPermission, NotFound, ValidationFailed } from '../src/domain/errors';
import { computePermissions, DEFAULT_EVERYONE_PERMISSIONS, PermissionFlags as F } from '../src/domain/permissions';
import { nextSnowflake } from '../src/domain/snowflake';
import { Channel } from '../src/entities/channel/Channel';
import { OverwriteType } from '../src/entities/channel/PermissionOverwrite';
import { loadServerAccess } from '../src/entities/server/ServerAccess';
import { User } from '../src/entities/user/User';
import { useTestDatabase } from './support/db';
import { RoleService } from '../src/servers/role-service';
import { ServerService } from '../src/servers/server-service';
import { ChannelService } from '../src/servers/channel-service';
import { UserService } from '../src/identity/user-service';

const db = useTestDatabase();

const channels = () => new ChannelService(db().fork());

async function register(username: string): Promise<User> {
  return new UserService(db().fork()).register({ username });
}

async function newServer(name = 'Overwrites') {
  const owner = await register('owner');
  const server = await new ServerService(db().fork()).createServer(owner, { name });
  const [general] = await db().sql<{ id: string }>(
    `select id::text from "Channel" where "serverId" = $1 and name = 'general'`,
    [server.id],
  );
  const [voice] = await db().sql<{ id: string }>(
    `select id::text from "Channel" where "serverId" = $1 and name = 'General'`,
    [server.id],
  );
  return { owner, server, general: general.id, voice: voice.id };
}

async function addMember(serverId: string, username: string): Promise<User> {
  const user = await register(username);
  await db().sql(`insert into "ServerMember" ("serverId", "userId") values ($1, $2)`, [serverId, user.id]);
  await db().sql(`update "Server" set "memberCount" = "memberCount" + 1 where id = $1`, [serverId]);
  return user;
}

async function insertRole(serverId: string, permissions: bigint, position = 5): Promise<string> {
  const id = nextSnowflake();
  await db().sql(`insert into "Role" (id, "serverId", name, permissions, position) values ($1, $2, 'r', $3, $4)`, [
    id,
    serverId,
    permissions.toString(),
    position,
  ]);
  return id;
}

async function give(serverId: string, userId: string, roleId: string): Promise<void> {
  await db().sql(`insert into "ServerMemberRole" ("serverId", "userId", "roleId") values ($1, $2, $3)`, [
    serverId,
    userId,
    roleId,
  ]);
}

async function memberWith(serverId: string, username: string, permissions: bigint): Promise<User> {
  const user = await addMember(serverId, username);
  await give(serverId, user.id, await insertRole(serverId, permissions));
  return user;
}

async function overwrites(channelId: string) {
  return db().sql<{ targetId: string; type: string; allow: string; deny: string }>(
    `select "targetId"::text, type, allow::text, deny::text from "PermissionOverwrite" where "channelId" = $1
      order by "targetId"`,
    [channelId],
  );
}

async function audit(serverId: string) {
  return db().sql<{ actionType: number; targetId: string; changes: { key: string; old?: unknown; new?: unknown }[] }>(
    `select "actionType", "targetId"::text, changes from "AuditLogEntry" where "serverId" = $1 order by id`,
    [serverId],
  );
}

async function lastEventId(): Promise<string> {
  const [row] = await db().sql<{ id: string | null }>(`select max(id)::text as id from "DomainEvent"`);
  return row.id ?? '0';
}

async function writes(serverId: string) {
  const [row] = await db().sql(
    `select (select md5(coalesce(string_agg(o::text, ',' order by o."channelId", o."targetId"), ''))
      from "PermissionOverwrite" o
              join "Channel" c on c.id = o."channelId" where c."serverId" = $1) as overwrites,
            (select count(*) from "AuditLogEntry") as audit,
            (select count(*) from "DomainEvent") as events`,
    [serverId],
  );
  return row;
}

/** The member's effective permissions in a channel, read from the database as a domain method sees them. */
async function permissionsIn(serverId: string, userId: string, channelId: string): Promise<bigint> {
  const em = db().fork();
  const access = await loadServerAccess(em, serverId, userId);
  const channel = await em.findOneOrFail(Channel, channelId, { populate: ['overwrites'] });
  return access.permissions(channel);
}

describe('permission overwrite CRUD', () => {
  it('creates (13), updates (14) and deletes (15) an overwrite, each with CHANNEL_UPDATE carrying the overwrites', async () => {
    const { owner, server, general } = await newServer();
    const role = await insertRole(server.id, F.SEND_MESSAGES);
    const since = await lastEventId();
    await channels().setOverwrite(
      owner,
      server.id,
      general,
      { targetId: role, type: 'role', allow: F.MANAGE_MESSAGES, deny: F.SEND_MESSAGES },
      { reason: 'lock it' },
    );
    expect(await overwrites(general)).toEqual([
      { targetId: role, type: 'ROLE', allow: F.MANAGE_MESSAGES.toString(), deny: F.SEND_MESSAGES.toString() },
    ]);
    await channels().setOverwrite(owner, server.id, general, {
      targetId: role,
      type: OverwriteType.ROLE,
      allow: F.MANAGE_MESSAGES | F.PIN_MESSAGES,
      deny: F.SEND_MESSAGES,
    });
    expect((await overwrites(general))[0].allow).toBe((F.MANAGE_MESSAGES | F.PIN_MESSAGES).toString());
    await channels().deleteOverwrite(owner, server.id, general, role);
    expect(await overwrites(general)).toEqual([]);
    const entries = await audit(server.id);
    expect(entries.map((e) => [e.actionType, e.targetId])).toEqual([
      [13, general],
      [14, general],
      [15, general],
    ]);
    expect(entries[0].changes).toEqual([
      { key: 'id', new: role },
      { key: 'type', new: 'ROLE' },
      { key: 'allow', new: F.MANAGE_MESSAGES.toString() },
      { key: 'deny', new: F.SEND_MESSAGES.toString() },
    ]);
    expect(entries[1].changes).toEqual([
      { key: 'id', new: role },
      { key: 'type', new: 'ROLE' },
      { key: 'allow', old: F.MANAGE_MESSAGES.toString(), new: (F.MANAGE_MESSAGES | F.PIN_MESSAGES).toString() },
    ]);
    expect(entries[2].changes).toEqual(
      expect.arrayContaining([
        { key: 'id', old: role },
        { key: 'deny', old: F.SEND_MESSAGES.toString() },
      ]),
    );
    const updates = await db().sql<{ payload: { channel: { permissionOverwrites: unknown[] } } }>(
      `select payload from "DomainEvent" where "channelId" = $1 and type = 'CHANNEL_UPDATE' and id > $2 order by id`,
      [general, since],
    );
    expect(updates.map((u) => u.payload.channel.permissionOverwrites.length)).toEqual([1, 1, 0]);
    // Writing the same bits again writes nothing.
    await channels().setOverwrite(owner, server.id, general, {
      targetId: server.id,
      type: 'role',
      deny: F.SEND_MESSAGES,
    });
    const before = await writes(server.id);
    await channels().setOverwrite(owner, server.id, general, {
      targetId: server.id,
      type: 'role',
      deny: F.SEND_MESSAGES,
    });
    expect(await writes(server.id)).toEqual(before);
  });

  it('takes the @everyone role (the server id) and members of the server as targets', async () => {
    const { owner, server, general } = await newServer();
    const member = await addMember(server.id, 'member');
    await channels().setOverwrite(owner, server.id, general, {
      targetId: server.id,
      type: 'role',
      deny: F.VIEW_CHANNEL,
    });
    await channels().setOverwrite(owner, server.id, general, {
      targetId: member.id,
      type: 'member',
      allow: F.VIEW_CHANNEL,
    });
    expect(await overwrites(general)).toEqual(
      [
        { targetId: server.id, type: 'ROLE', allow: '0', deny: F.VIEW_CHANNEL.toString() },
        { targetId: member.id, type: 'MEMBER', allow: F.VIEW_CHANNEL.toString(), deny: '0' },
      ].sort((a, b) => (BigInt(a.targetId) < BigInt(b.targetId) ? -1 : 1)),
    );
  });

  it('refuses bad input and targets outside the server, writing nothing', async () => {
    const { owner, server, general } = await newServer('one');
    const other = await newServer('two');
    const outsider = await register('outsider');
    const foreignRole = await insertRole(other.server.id, 0n);
    const before = await writes(server.id);
    const invalid: object[] = [
      { targetId: server.id, type: 'role', allow: F.SEND_MESSAGES, deny: F.SEND_MESSAGES },
      { targetId: server.id, type: 'role', allow: 1n << 60n },
      { targetId: server.id, type: 'role', deny: '-1' },
      { targetId: server.id, type: 'channel' },
      { targetId: 'x', type: 'role' },
    ];
    for (const input of invalid)
      await expect(
        channels().setOverwrite(owner, server.id, general, input as never),
        JSON.stringify(input, (_, v) => (typeof v === 'bigint' ? v.toString() : v)),
      ).rejects.toBeInstanceOf(ValidationFailed);
    await expect(
      channels().setOverwrite(owner, server.id, general, { targetId: foreignRole, type: 'role' }),
    ).rejects.toBeInstanceOf(NotFound);
    await expect(
      channels().setOverwrite(owner, server.id, general, { targetId: outsider.id, type: 'member' }),
    ).rejects.toBeInstanceOf(NotFound);
    await expect(
      channels().setOverwrite(owner, server.id, general, { targetId: owner.id, type: 'role' }),
    ).rejects.toBeInstanceOf(NotFound);
    await expect(
      channels().setOverwrite(owner, server.id, other.general, { targetId: server.id, type: 'role' }),
    ).rejects.toBeInstanceOf(NotFound);
    await expect(channels().deleteOverwrite(owner, server.id, general, server.id)).rejects.toBeInstanceOf(NotFound);
    expect(await writes(server.id)).toEqual(before);
  });

  it('nobody allows or denies what they lack in the channel; administrators and the owner may', async () => {
    const { owner, server, general } = await newServer();
    const manager = await memberWith(server.id, 'manager', F.MANAGE_ROLES);
    const admin = await memberWith(server.id, 'admin', F.ADMINISTRATOR);
    const before = await writes(server.id);
    for (const input of [
      { allow: F.MANAGE_MESSAGES },
      { deny: F.MANAGE_MESSAGES },
      { allow: F.SEND_MESSAGES, deny: F.BAN_MEMBERS },
    ]) {
      const error = await channels()
        .setOverwrite(manager, server.id, general, { targetId: server.id, type: 'role', ...input })
        .catch((e) => e);
      expect(error).toBeInstanceOf(MissingPermission);
    }
    expect(await writes(server.id)).toEqual(before);
    // Bits the manager holds (SEND_MESSAGES from @everyone, MANAGE_ROLES from the role) are fine.
    await channels().setOverwrite(manager, server.id, general, {
      targetId: server.id,
      type: 'role',
      deny: F.SEND_MESSAGES,
      allow: F.MANAGE_ROLES,
    });
    await channels().setOverwrite(admin, server.id, general, {
      targetId: server.id,
      type: 'role',
      deny: F.SEND_MESSAGES | F.MANAGE_MESSAGES,
    });
    // Now the overwrite holds MANAGE_MESSAGES: the manager may neither remove it nor delete the overwrite.
    await expect(
      channels().setOverwrite(manager, server.id, general, {
        targetId: server.id,
        type: 'role',
        deny: F.SEND_MESSAGES,
      }),
    ).rejects.toBeInstanceOf(MissingPermission);
    await expect(channels().deleteOverwrite(manager, server.id, general, server.id)).rejects.toBeInstanceOf(
      MissingPermission,
    );
    await channels().setOverwrite(owner, server.id, general, {
      targetId: server.id,
      type: 'role',
      allow: F.BAN_MEMBERS,
    });
    await channels().deleteOverwrite(admin, server.id, general, server.id);
    expect(await overwrites(general)).toEqual([]);
  });

  it('a permission the actor lacks in this channel (denied here) cannot be granted here, though it can elsewhere', async () => {
    const { server, general, voice } = await newServer();
    const manager = await memberWith(server.id, 'manager', F.MANAGE_ROLES | F.MANAGE_MESSAGES);
    await db().sql(
      `insert into "PermissionOverwrite" ("channelId", "targetId", type, allow, deny) values ($1, $2, 'MEMBER', 0, $3)`,
      [general, manager.id, F.MANAGE_MESSAGES.toString()],
    );
    await expect(
      channels().setOverwrite(manager, server.id, general, {
        targetId: server.id,
        type: 'role',
        allow: F.MANAGE_MESSAGES,
      }),
    ).rejects.toBeInstanceOf(MissingPermission);
    await channels().setOverwrite(manager, server.id, voice, {
      targetId: server.id,
      type: 'role',
      deny: F.MANAGE_MESSAGES,
    });
  });

  it('MANAGE_ROLES is judged in the channel: an overwrite can give it there only, or take it away there', async () => {
    const { server, general, voice } = await newServer();
    const helper = await addMember(server.id, 'helper');
    await db().sql(
      `insert into "PermissionOverwrite" ("channelId", "targetId", type, allow, deny) values ($1, $2, 'MEMBER', $3, 0)`,
      [general, helper.id, F.MANAGE_ROLES.toString()],
    );
    await channels().setOverwrite(helper, server.id, general, {
      targetId: server.id,
      type: 'role',
      deny: F.ADD_REACTIONS,
    });
    await expect(
      channels().setOverwrite(helper, server.id, voice, { targetId: server.id, type: 'role', deny: F.SPEAK }),
    ).rejects.toBeInstanceOf(MissingPermission);
    const manager = await memberWith(server.id, 'manager', F.MANAGE_ROLES);
    await db().sql(
      `insert into "PermissionOverwrite" ("channelId", "targetId", type, allow, deny) values ($1, $2, 'MEMBER', 0, $3)`,
      [voice, manager.id, F.MANAGE_ROLES.toString()],
    );
    await expect(
      channels().setOverwrite(manager, server.id, voice, { targetId: server.id, type: 'role', deny: F.SPEAK }),
    ).rejects.toBeInstanceOf(MissingPermission);
  });
});

describe("a member's permissions in a channel, computed from the stored overwrites in Discord's order", () => {
  it('applies @everyone, then all role overwrites together, then the member overwrite; never takes ADMINISTRATOR away', async () => {
    const { owner, server, general } = await newServer();
    const roles = new RoleService(db().fork());
    const a = await roles.createRole(owner, server.id, { name: 'a', permissions: 0n });
    const b = await roles.createRole(owner, server.id, { name: 'b', permissions: 0n });
    const member = await addMember(server.id, 'member');
    await roles.assignRole(owner, server.id, member.id, a.id);
    await new RoleService(db().fork()).assignRole(owner, server.id, member.id, b.id);
    const set = (targetId: string, type: 'role' | 'member', allow: bigint, deny: bigint) =>
      channels().setOverwrite(owner, server.id, general, { targetId, type, allow, deny });

    // The member overwrite is written first and @everyone's last: stored order must not matter.
    await set(member.id, 'member', F.ATTACH_FILES, F.ADD_REACTIONS);
    // Role overwrites together: a denies EMBED_LINKS, b allows it -> allowed (allows are added after all denies).
    // a allows MANAGE_MESSAGES over @everyone's deny.
    await set(b.id, 'role', F.EMBED_LINKS, 0n);
    await set(a.id, 'role', F.MANAGE_MESSAGES, F.EMBED_LINKS | F.ATTACH_FILES);
    await set(server.id, 'role', 0n, F.MANAGE_MESSAGES | F.SEND_MESSAGES | F.CONNECT);

    const got = await permissionsIn(server.id, member.id, general);
    expect(got & F.SEND_MESSAGES).toBe(0n); // @everyone deny, no role or member allow
    expect(got & F.MANAGE_MESSAGES).toBe(F.MANAGE_MESSAGES); // role allow beats @everyone deny
    // Without SEND_MESSAGES, EMBED_LINKS and ATTACH_FILES do not count (implicit rule)...
    expect(got & (F.EMBED_LINKS | F.ATTACH_FILES)).toBe(0n);
    expect(got & F.ADD_REACTIONS).toBe(0n); // member deny
    expect(got & F.VIEW_CHANNEL).toBe(F.VIEW_CHANNEL);

    // ...so compare the raw algorithm (steps 1-4) too, against Discord's order done by hand.
    const input = {
      serverId: server.id,
      ownerId: owner.id,
      memberId: member.id,
      everyone: DEFAULT_EVERYONE_PERMISSIONS,
      roles: [
        { id: a.id, permissions: 0n },
        { id: b.id, permissions: 0n },
      ],
      overwrites: (await overwrites(general)).map((o) => ({
        id: o.targetId,
        type: o.type === 'ROLE' ? ('role' as const) : ('member' as const),
        allow: BigInt(o.allow),
        deny: BigInt(o.deny),
      })),
    };
    let expected = DEFAULT_EVERYONE_PERMISSIONS;
    expected = (expected & ~(F.MANAGE_MESSAGES | F.SEND_MESSAGES | F.CONNECT)) | 0n;
    expected = (expected & ~(F.EMBED_LINKS | F.ATTACH_FILES)) | (F.MANAGE_MESSAGES | F.EMBED_LINKS);
    expected = (expected & ~F.ADD_REACTIONS) | F.ATTACH_FILES;
    expect(computePermissions(input)).toBe(expected);
    expect(computePermissions({ ...input, overwrites: [...input.overwrites].reverse() })).toBe(expected);

    // The member overwrite allowing SEND_MESSAGES brings EMBED_LINKS and ATTACH_FILES back.
    await set(member.id, 'member', F.ATTACH_FILES | F.SEND_MESSAGES, F.ADD_REACTIONS);
    const after = await permissionsIn(server.id, member.id, general);
    expect(after & (F.SEND_MESSAGES | F.EMBED_LINKS | F.ATTACH_FILES)).toBe(
      F.SEND_MESSAGES | F.EMBED_LINKS | F.ATTACH_FILES,
    );

    // Another member without the roles: only @everyone's overwrite applies.
    const plain = await addMember(server.id, 'plain');
    const theirs = await permissionsIn(server.id, plain.id, general);
    expect(theirs & (F.SEND_MESSAGES | F.MANAGE_MESSAGES)).toBe(0n);
    expect(theirs & F.ADD_REACTIONS).toBe(F.ADD_REACTIONS);

    // An administrator keeps everything, whatever the overwrites deny.
    await roles.updateRole(owner, server.id, b.id, { permissions: F.ADMINISTRATOR });
    await set(member.id, 'member', 0n, F.VIEW_CHANNEL | F.ADMINISTRATOR);
    const admin = await permissionsIn(server.id, member.id, general);
    expect(admin & (F.VIEW_CHANNEL | F.ADMINISTRATOR | F.SEND_MESSAGES)).toBe(
      F.VIEW_CHANNEL | F.ADMINISTRATOR | F.SEND_MESSAGES,
    );
    // And the owner has everything in the channel.
    expect(await permissionsIn(server.id, owner.id, general)).toBe(
      computePermissions({ ...input, memberId: owner.id }),
    );
  });
});
