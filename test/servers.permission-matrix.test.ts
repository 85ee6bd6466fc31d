/**
 * The permission matrix: for every role, channel and overwrite action, a member without the permission
 * it needs is refused with MissingPermission naming it, and nothing is written (no row of the affected
 * tables changes, no audit entry, no event). Each row also runs the same action by a member who holds
 * the permission, so the refusal is shown to come from the permission and not from anything else.
 */
import { describe, expect, it } from 'vitest';
import { MissingPermission } from '../src/domain/errors';
import { ALL_PERMISSIONS, PermissionFlags as F, type PermissionName } from '../src/domain/permissions';
import { nextSnowflake } from '../src/domain/snowflake';
import { ChannelType } from '../src/entities/channel/Channel';
import { User } from '../src/entities/user/User';
import { useTestDatabase } from './support/db';
import { ServerService } from '../src/servers/server-service';
import { ChannelService } from '../src/servers/channel-service';
import { RoleService } from '../src/servers/role-service';
import { UserService } from '../src/identity/user-service';

const db = useTestDatabase();

async function register(username: string): Promise<User> {
  return new UserService(db().fork()).register({ username });
}

async function addMember(serverId: string, username: string, permissions?: bigint, position = 50): Promise<User> {
  const user = await register(username);
  await db().sql(`insert into "ServerMember" ("serverId", "userId") values ($1, $2)`, [serverId, user.id]);
  await db().sql(`update "Server" set "memberCount" = "memberCount" + 1 where id = $1`, [serverId]);
  if (permissions !== undefined) {
    const roleId = nextSnowflake();
    await db().sql(`insert into "Role" (id, "serverId", name, permissions, position) values ($1, $2, $3, $4, $5)`, [
      roleId,
      serverId,
      `${username} role`,
      permissions.toString(),
      position,
    ]);
    await db().sql(`insert into "ServerMemberRole" ("serverId", "userId", "roleId") values ($1, $2, $3)`, [
      serverId,
      user.id,
      roleId,
    ]);
  }
  return user;
}

async function denyInChannel(channelId: string, userId: string, permission: bigint): Promise<void> {
  await db().sql(
    `insert into "PermissionOverwrite" ("channelId", "targetId", type, allow, deny) values ($1, $2, 'MEMBER', 0, $3)`,
    [channelId, userId, permission.toString()],
  );
}

interface Ctx {
  serverId: string;
  owner: User;
  textCategory: string;
  voiceCategory: string;
  general: string;
  /** A role at position 2, held by `member`. */
  low: string;
  member: User;
  /** A member without roles. */
  other: User;
}

async function setup(): Promise<Ctx> {
  const owner = await register('owner');
  const server = await new ServerService(db().fork()).createServer(owner, { name: 'Matrix' });
  const rows = await db().sql<{ id: string; name: string }>(
    `select id::text, name from "Channel" where "serverId" = $1`,
    [server.id],
  );
  const byName = Object.fromEntries(rows.map((r) => [r.name, r.id]));
  const low = nextSnowflake();
  await db().sql(`insert into "Role" (id, "serverId", name, permissions, position) values ($1, $2, 'low', 0, 2)`, [
    low,
    server.id,
  ]);
  const member = await addMember(server.id, 'member');
  await db().sql(`insert into "ServerMemberRole" ("serverId", "userId", "roleId") values ($1, $2, $3)`, [
    server.id,
    member.id,
    low,
  ]);
  const other = await addMember(server.id, 'other');
  await db().sql(
    `insert into "PermissionOverwrite" ("channelId", "targetId", type, allow, deny) values ($1, $2, 'ROLE', $3, 0)`,
    [byName['general'], server.id, F.ADD_REACTIONS.toString()],
  );
  return {
    serverId: server.id,
    owner,
    textCategory: byName['Text Channels'],
    voiceCategory: byName['Voice Channels'],
    general: byName['general'],
    low,
    member,
    other,
  };
}

/** Everything the actions could write, for this server and globally (audit log and outbox). */
async function snapshot(serverId: string) {
  const [row] = await db().sql(
    `select (select count(*) from "Role" where "serverId" = $1) as roles,
            (select md5(coalesce(string_agg(r::text, ',' order by r.id), '')) from "Role" r
              where "serverId" = $1) as role_rows,
            (select md5(coalesce(string_agg(m::text, ',' order by m."userId", m."roleId"), ''))
              from "ServerMemberRole" m where "serverId" = $1) as member_roles,
            (select count(*) from "Channel" where "serverId" = $1) as channels,
            (select md5(coalesce(string_agg(c::text, ',' order by c.id), '')) from "Channel" c
              where "serverId" = $1) as channel_rows,
            (select md5(coalesce(string_agg(o::text, ',' order by o."channelId", o."targetId"), ''))
              from "PermissionOverwrite" o) as overwrites,
            (select md5(coalesce(string_agg(s::text, ','), '')) from "Server" s where id = $1) as server_row,
            (select count(*) from "AuditLogEntry") as audit,
            (select count(*) from "DomainEvent") as events`,
    [serverId],
  );
  return row;
}

interface Action {
  name: string;
  needs: PermissionName;
  /** The channel the permission is judged in, when it is judged in one (then an overwrite can deny it there). */
  channel?: (ctx: Ctx) => string;
  run: (actor: User, ctx: Ctx) => Promise<unknown>;
}

const roles = () => new RoleService(db().fork());
const channels = () => new ChannelService(db().fork());

const ACTIONS: Action[] = [
  { name: 'createRole', needs: 'MANAGE_ROLES', run: (a, c) => roles().createRole(a, c.serverId, { name: 'new role' }) },
  {
    name: 'updateRole',
    needs: 'MANAGE_ROLES',
    run: (a, c) => roles().updateRole(a, c.serverId, c.low, { name: 'renamed', color: 7 }),
  },
  {
    name: 'updateRole (@everyone)',
    needs: 'MANAGE_ROLES',
    run: (a, c) => roles().updateRole(a, c.serverId, c.serverId, { permissions: F.VIEW_CHANNEL }),
  },
  { name: 'deleteRole', needs: 'MANAGE_ROLES', run: (a, c) => roles().deleteRole(a, c.serverId, c.low) },
  {
    name: 'reorderRoles',
    needs: 'MANAGE_ROLES',
    run: (a, c) => roles().reorderRoles(a, c.serverId, [{ id: c.low, position: 3 }]),
  },
  { name: 'assignRole', needs: 'MANAGE_ROLES', run: (a, c) => roles().assignRole(a, c.serverId, c.other.id, c.low) },
  {
    name: 'unassignRole',
    needs: 'MANAGE_ROLES',
    run: (a, c) => roles().unassignRole(a, c.serverId, c.member.id, c.low),
  },
  {
    name: 'createChannel',
    needs: 'MANAGE_CHANNELS',
    run: (a, c) => channels().createChannel(a, c.serverId, { type: ChannelType.GUILD_TEXT, name: 'new' }),
  },
  {
    name: 'createChannel (in a category)',
    needs: 'MANAGE_CHANNELS',
    channel: (c) => c.textCategory,
    run: (a, c) =>
      channels().createChannel(a, c.serverId, { type: ChannelType.GUILD_TEXT, name: 'new', parentId: c.textCategory }),
  },
  {
    name: 'updateChannel',
    needs: 'MANAGE_CHANNELS',
    channel: (c) => c.general,
    run: (a, c) => channels().updateChannel(a, c.serverId, c.general, { name: 'renamed', topic: 't' }),
  },
  {
    name: 'deleteChannel',
    needs: 'MANAGE_CHANNELS',
    channel: (c) => c.general,
    run: (a, c) => channels().deleteChannel(a, c.serverId, c.general),
  },
  {
    name: 'reorderChannels',
    needs: 'MANAGE_CHANNELS',
    channel: (c) => c.textCategory,
    run: (a, c) => channels().reorderChannels(a, c.serverId, null, [c.voiceCategory, c.textCategory]),
  },
  {
    name: 'setOverwrite (create)',
    needs: 'MANAGE_ROLES',
    channel: (c) => c.general,
    run: (a, c) =>
      channels().setOverwrite(a, c.serverId, c.general, {
        targetId: c.member.id,
        type: 'member',
        deny: F.ADD_REACTIONS,
      }),
  },
  {
    name: 'setOverwrite (update)',
    needs: 'MANAGE_ROLES',
    channel: (c) => c.general,
    run: (a, c) =>
      channels().setOverwrite(a, c.serverId, c.general, {
        targetId: c.serverId,
        type: 'role',
        allow: F.ADD_REACTIONS,
        deny: F.SEND_TTS_MESSAGES,
      }),
  },
  {
    name: 'deleteOverwrite',
    needs: 'MANAGE_ROLES',
    channel: (c) => c.general,
    run: (a, c) => channels().deleteOverwrite(a, c.serverId, c.general, c.serverId),
  },
];

const EVERYTHING_BUT_ADMIN = ALL_PERMISSIONS & ~F.ADMINISTRATOR;

async function expectRefusedWithNothingWritten(ctx: Ctx, action: Action, actor: User, exact: boolean): Promise<void> {
  const before = await snapshot(ctx.serverId);
  const error = await action.run(actor, ctx).then(
    () => null,
    (e) => e,
  );
  expect(error, `${action.name} should be refused`).toBeInstanceOf(MissingPermission);
  if (exact) expect((error as MissingPermission).permissions).toEqual([action.needs]);
  else expect((error as MissingPermission).permissions).toContain(action.needs);
  expect(await snapshot(ctx.serverId), `${action.name} wrote something`).toEqual(before);
}

describe('permission matrix', () => {
  for (const action of ACTIONS) {
    it(`${action.name}: refused without ${action.needs} (writing nothing), allowed with it`, async () => {
      const ctx = await setup();
      // A member with only @everyone's permissions.
      const plain = await addMember(ctx.serverId, 'plain');
      await expectRefusedWithNothingWritten(ctx, action, plain, false);
      // A member ranked at the top with every permission but this one (and ADMINISTRATOR).
      const lacking = await addMember(ctx.serverId, 'lacking', EVERYTHING_BUT_ADMIN & ~F[action.needs], 100);
      await expectRefusedWithNothingWritten(ctx, action, lacking, true);
      if (action.channel) {
        // Every permission at server level, but an overwrite denies this one where it is judged.
        const denied = await addMember(ctx.serverId, 'denied', EVERYTHING_BUT_ADMIN, 99);
        await denyInChannel(action.channel(ctx), denied.id, F[action.needs]);
        await expectRefusedWithNothingWritten(ctx, action, denied, true);
      }
      // The control: the same action by a member who holds the permission succeeds and is audited.
      const holder = await addMember(ctx.serverId, 'holder', EVERYTHING_BUT_ADMIN, 98);
      const before = await snapshot(ctx.serverId);
      await action.run(holder, ctx);
      const after = await snapshot(ctx.serverId);
      expect(Number(after.audit)).toBeGreaterThan(Number(before.audit));
      expect(Number(after.events)).toBeGreaterThan(Number(before.events));
    });
  }
});
