import { describe, expect, it } from 'vitest';
import {
  AlreadyMember,
  InviteInvalid,
  LimitReached,
  MissingPermission,
  NotAMember,
  NotFound,
  UserBanned,
  ValidationFailed,
} from '../src/domain/errors';
import { DEFAULT_EVERYONE_PERMISSIONS, PermissionFlags as F } from '../src/domain/permissions';
import { nextSnowflake } from '../src/domain/snowflake';
import { User } from '../src/entities/user/User';
import { ServerMember } from '../src/entities/server/ServerMember';
import { useTestDatabase } from './support/db';
import { membershipHelpers } from './support/membership';

const db = useTestDatabase();
const {
  register,
  memberships,
  invites,
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

describe('creating invites', () => {
  it('creates an invite with CREATE_INSTANT_INVITE, writes audit entry 40 and INVITE_CREATE', async () => {
    const w = await world();
    const member = await joined(w);
    const since = await lastEventId();
    const invite = await invites().createInvite(member, w.textId, { maxAge: 3600, maxUses: 5, temporary: true });
    expect(invite.code).toMatch(/^[A-Za-z0-9]{10}$/);
    const [row] = await db().sql(
      `select "serverId"::text, "channelId"::text, "inviterId"::text, "maxAge", "maxUses", uses, temporary,
              extract(epoch from ("expiresAt" - "createdAt"))::int as ttl from "Invite" where code = $1`,
      [invite.code],
    );
    expect(row).toEqual({
      serverId: w.server.id,
      channelId: w.textId,
      inviterId: member.id,
      maxAge: 3600,
      maxUses: 5,
      uses: 0,
      temporary: true,
      ttl: 3600,
    });
    const events = await eventsSince(w.server.id, since);
    expect(events.map((e) => e.type)).toEqual(['INVITE_CREATE', 'GUILD_AUDIT_LOG_ENTRY_CREATE']);
    expect(events[0].payload).toMatchObject({
      invite: { code: invite.code, maxUses: 5, maxAge: 3600, temporary: true, inviterId: member.id },
    });
    const log = await auditLog(w.server.id);
    expect(log.at(-1)).toMatchObject({ actionType: 40, actorId: member.id, targetId: null });
    expect(log.at(-1)!.changes).toContainEqual({ key: 'code', new: invite.code });
    expect(log.at(-1)!.changes).toContainEqual({ key: 'max_uses', new: 5 });
  });

  it('defaults to one day and unlimited uses; maxAge 0 never expires', async () => {
    const w = await world();
    const a = await invites().createInvite(w.owner, w.textId);
    const b = await invites().createInvite(w.owner, w.textId, { maxAge: 0, maxUses: 100 });
    const rows = await db().sql(
      `select code, "maxAge", "maxUses", "expiresAt" is null as forever from "Invite" where code = any($1)
        order by "maxAge"`,
      [[a.code, b.code]],
    );
    expect(rows).toEqual([
      { code: b.code, maxAge: 0, maxUses: 100, forever: true },
      { code: a.code, maxAge: 86400, maxUses: 0, forever: false },
    ]);
  });

  it('refuses bad options with ValidationFailed and writes nothing', async () => {
    const w = await world();
    const bad: unknown[] = [
      { maxAge: -1 },
      { maxAge: 604801 },
      { maxAge: 1.5 },
      { maxAge: '60' },
      { maxUses: -1 },
      { maxUses: 101 },
      { maxUses: NaN },
      { temporary: 'yes' },
      'options',
    ];
    for (const options of bad) {
      await refusedUnchanged(
        w.server.id,
        () => invites().createInvite(w.owner, w.textId, options as object),
        ValidationFailed,
      );
    }
    // the limits themselves are accepted
    await invites().createInvite(w.owner, w.textId, { maxAge: 604800, maxUses: 100 });
  });

  it('refuses a member without CREATE_INSTANT_INVITE, at server level and through a channel overwrite', async () => {
    const w = await world();
    const member = await joined(w);
    await setEveryone(w.server.id, DEFAULT_EVERYONE_PERMISSIONS & ~F.CREATE_INSTANT_INVITE);
    await refusedUnchanged(w.server.id, () => invites().createInvite(member, w.textId), MissingPermission, {
      permission: 'CREATE_INSTANT_INVITE',
    });
    // a role grants it back; a deny overwrite on @everyone in the channel takes it away again,
    // and the same deny does not bind the owner
    await role(w.server.id, F.CREATE_INSTANT_INVITE, 1, [member.id]);
    await invites().createInvite(member, w.textId);
    await db().sql(`update "Role" set permissions = $2 where "serverId" = $1 and id <> $1`, [w.server.id, '0']);
    await setEveryone(w.server.id, DEFAULT_EVERYONE_PERMISSIONS);
    await db().sql(
      `insert into "PermissionOverwrite" ("channelId", "targetId", type, allow, deny) values ($1, $2, 'ROLE', 0, $3)`,
      [w.textId, w.server.id, F.CREATE_INSTANT_INVITE.toString()],
    );
    await refusedUnchanged(w.server.id, () => invites().createInvite(member, w.textId), MissingPermission, {
      permission: 'CREATE_INSTANT_INVITE',
    });
    await invites().createInvite(w.owner, w.textId);
  });

  it('refuses strangers, unknown channels and categories', async () => {
    const w = await world();
    const stranger = await register('stranger');
    await refusedUnchanged(w.server.id, () => invites().createInvite(stranger, w.textId), NotAMember);
    await refusedUnchanged(w.server.id, () => invites().createInvite(w.owner, '123456789'), NotFound);
    await refusedUnchanged(w.server.id, () => invites().createInvite(w.owner, w.categoryId), ValidationFailed);
    await refusedUnchanged(w.server.id, () => invites().createInvite(w.owner, 'general'), ValidationFailed);
  });

  it('a timed-out member cannot create invites', async () => {
    const w = await world();
    const member = await joined(w);
    await memberships().timeout(w.owner, w.server.id, member, new Date(Date.now() + 60_000));
    await refusedUnchanged(w.server.id, () => invites().createInvite(member, w.textId), MissingPermission, {
      permission: 'CREATE_INSTANT_INVITE',
    });
  });
});

describe('joining through an invite', () => {
  it('adds the member, counts the use and the member atomically, records GUILD_MEMBER_ADD and no audit entry', async () => {
    const w = await world();
    const auditBefore = (await auditLog(w.server.id)).length;
    const user = await register('joiner');
    const since = await lastEventId();
    const member = await memberships().acceptInvite(user, w.code);
    expect(member.user.id).toBe(user.id);
    const s = await state(w.server.id);
    expect(s.memberCount).toBe(2);
    expect(s.members!.map((m) => m.userId).sort()).toEqual([w.owner.id, user.id].sort());
    expect(s.invites).toEqual([{ code: w.code, uses: 1 }]);
    expect(s.audit).toBe(auditBefore);
    const events = await eventsSince(w.server.id, since);
    expect(events.map((e) => e.type)).toEqual(['GUILD_MEMBER_ADD']);
    expect(events[0].payload).toMatchObject({ member: { serverId: w.server.id, userId: user.id, roles: [] } });
    expect(events[0].userIds).toEqual([user.id]);
  });

  it('refuses an unknown code, an expired invite and a used-up invite with InviteInvalid', async () => {
    const w = await world();
    const user = await register('late');
    await refusedUnchanged(w.server.id, () => memberships().acceptInvite(user, 'nosuchcode'), InviteInvalid, {
      reason: 'unknown',
    });
    await refusedUnchanged(w.server.id, () => memberships().acceptInvite(user, 'bad code!'), InviteInvalid, {
      reason: 'unknown',
    });
    await refusedUnchanged(
      w.server.id,
      () => memberships().acceptInvite(user, 42 as unknown as string),
      ValidationFailed,
    );

    const expiring = await invites().createInvite(w.owner, w.textId, { maxAge: 60 });
    await db().sql(`update "Invite" set "expiresAt" = now() - interval '1 second' where code = $1`, [expiring.code]);
    await refusedUnchanged(w.server.id, () => memberships().acceptInvite(user, expiring.code), InviteInvalid, {
      reason: 'expired',
    });

    const single = await invites().createInvite(w.owner, w.textId, { maxUses: 1 });
    await memberships().acceptInvite(await register('first'), single.code);
    await refusedUnchanged(w.server.id, () => memberships().acceptInvite(user, single.code), InviteInvalid, {
      reason: 'used_up',
    });
    // a valid invite still works for the same user
    await memberships().acceptInvite(user, w.code);
  });

  it('refuses a member who is already in, without consuming a use', async () => {
    const w = await world();
    const limited = await invites().createInvite(w.owner, w.textId, { maxUses: 2 });
    const user = await register('twice');
    await memberships().acceptInvite(user, limited.code);
    await refusedUnchanged(w.server.id, () => memberships().acceptInvite(user, limited.code), AlreadyMember);
    await refusedUnchanged(w.server.id, () => memberships().acceptInvite(w.owner, limited.code), AlreadyMember);
    const [{ uses }] = await db().sql(`select uses from "Invite" where code = $1`, [limited.code]);
    expect(uses).toBe(1);
  });

  it('no invite lets a banned user in, not even a new one', async () => {
    const w = await world();
    const user = await joined(w, 'troll');
    await memberships().ban(w.owner, w.server.id, user, { reason: 'spam' });
    await refusedUnchanged(w.server.id, () => memberships().acceptInvite(user, w.code), UserBanned);
    const fresh = await invites().createInvite(w.owner, w.textId, { maxAge: 0, maxUses: 0 });
    await refusedUnchanged(w.server.id, () => memberships().acceptInvite(user, fresh.code), UserBanned);
    const neverMember = await register('preban');
    await memberships().ban(w.owner, w.server.id, neverMember.id, { reason: 'known raider' });
    await refusedUnchanged(w.server.id, () => memberships().acceptInvite(neverMember, fresh.code), UserBanned);
  });

  it('refuses a join past the 100-server cap with LimitReached (200 with premium)', async () => {
    const w = await world();
    const busy = await register('busy');
    const fillers = Array.from({ length: 100 }, () => nextSnowflake());
    await db().sql(
      `insert into "Server" (id, name, "ownerId", "memberCount") select x, 'filler', $2, 1 from unnest($1::bigint[]) x`,
      [fillers, w.owner.id],
    );
    await db().sql(`insert into "ServerMember" ("serverId", "userId") select x, $2 from unnest($1::bigint[]) x`, [
      fillers,
      busy.id,
    ]);
    await refusedUnchanged(w.server.id, () => memberships().acceptInvite(busy, w.code), LimitReached, {
      limit: 'servers',
      max: 100,
    });
    await db().sql(`update "User" set "premiumType" = 'NITRO' where id = $1`, [busy.id]);
    await memberships().acceptInvite(busy, w.code);
    expect((await state(w.server.id)).memberCount).toBe(2);
  });

  it('user.acceptInvite and member.createInvite delegate to the repositories', async () => {
    const w = await world();
    const em = db().fork();
    const owner = await loadMember(w.server.id, w.owner.id, em);
    const invite = await owner.createInvite(w.textId, { maxUses: 3 });
    const user = await em.findOneOrFail(User, (await register('viaentity')).id);
    const member = await user.acceptInvite(invite.code);
    expect(member).toBeInstanceOf(ServerMember);
    const [{ uses }] = await db().sql(`select uses from "Invite" where code = $1`, [invite.code]);
    expect(uses).toBe(1);
  });
});

describe('deleting invites', () => {
  it('the inviter may delete their invite without any permission; audit 42 and INVITE_DELETE', async () => {
    const w = await world();
    const member = await joined(w);
    const invite = await invites().createInvite(member, w.textId, { maxUses: 7 });
    await setEveryone(w.server.id, DEFAULT_EVERYONE_PERMISSIONS & ~F.CREATE_INSTANT_INVITE);
    const since = await lastEventId();
    await invites().deleteInvite(member, invite.code, { reason: 'oops' });
    expect(await db().sql(`select 1 from "Invite" where code = $1`, [invite.code])).toEqual([]);
    const events = await eventsSince(w.server.id, since);
    expect(events.map((e) => e.type)).toEqual(['INVITE_DELETE', 'GUILD_AUDIT_LOG_ENTRY_CREATE']);
    expect(events[0].payload).toMatchObject({ code: invite.code, channelId: w.textId });
    const log = await auditLog(w.server.id);
    expect(log.at(-1)).toMatchObject({ actionType: 42, actorId: member.id, reason: 'oops' });
    expect(log.at(-1)!.changes).toContainEqual({ key: 'code', old: invite.code });
  });

  it('others need MANAGE_GUILD, or MANAGE_CHANNELS in the invite channel', async () => {
    const w = await world();
    const invite = await invites().createInvite(w.owner, w.textId);
    const other = await joined(w, 'other');
    await refusedUnchanged(w.server.id, () => invites().deleteInvite(other, invite.code), MissingPermission, {
      permission: 'MANAGE_CHANNELS',
    });
    await refusedUnchanged(w.server.id, () => invites().deleteInvite(other, 'nosuchcode'), NotFound);
    const stranger = await register('stranger');
    await refusedUnchanged(w.server.id, () => invites().deleteInvite(stranger, invite.code), NotAMember);

    // MANAGE_CHANNELS granted in the channel only (a member overwrite)
    await db().sql(
      `insert into "PermissionOverwrite" ("channelId", "targetId", type, allow, deny) values ($1, $2, 'MEMBER', $3, 0)`,
      [w.textId, other.id, F.MANAGE_CHANNELS.toString()],
    );
    await invites().deleteInvite(other, invite.code);

    const second = await invites().createInvite(w.owner, w.textId);
    const manager = await joined(w, 'manager');
    await role(w.server.id, F.MANAGE_GUILD, 1, [manager.id]);
    await invites().deleteInvite(manager, second.code);
    expect(await db().sql(`select code from "Invite" where code = any($1)`, [[invite.code, second.code]])).toEqual([]);
  });
});
