import { Channel } from '../src/entities/channel/Channel';
import { describe, expect, it } from 'vitest';
import type { EntityManager } from '@mikro-orm/postgresql';
import {
  HierarchyViolation,
  MissingPermission,
  NotAMember,
  NotAVoiceChannel,
  NotFound,
  NotInVoice,
  UserBanned,
  ValidationFailed,
  VoiceChannelFull,
} from '../src/domain/errors';
import { PermissionFlags as F } from '../src/domain/permissions';
import { nextSnowflake } from '../src/domain/snowflake';
import { transact } from '../src/db/unit-of-work';
import { Server } from '../src/entities/server/Server';
import { ServerMember } from '../src/entities/server/ServerMember';
import { User } from '../src/entities/user/User';
import type { VoiceRepository } from '../src/entities/voice/VoiceRepository';
import { VoiceService } from '../src/voice/voice-service';
import { VoiceState } from '../src/entities/voice/VoiceState';
import { useTestDatabase } from './support/db';
import { InviteService } from '../src/servers/invite-service';
import { ServerService } from '../src/servers/server-service';
import { ChannelService } from '../src/servers/channel-service';
import { MembershipService } from '../src/servers/membership-service';
import { UserService } from '../src/identity/user-service';

const db = useTestDatabase();

let seq = 0;
const register = (name: string) => new UserService(db().fork()).register({ username: `${name}${++seq}` });
const voice = (em: EntityManager = db().fork()) => new VoiceService(em);
const voiceStates = (em: EntityManager = db().fork()): VoiceRepository => em.getRepository(VoiceState);
const memberships = (em: EntityManager = db().fork()) => new MembershipService(em);
const channels = (em: EntityManager = db().fork()) => new ChannelService(em);
const loadMember = (serverId: string, userId: string, em: EntityManager = db().fork()) =>
  em.findOneOrFail(ServerMember, { server: serverId, user: userId });

interface World {
  owner: User;
  server: Server;
  textId: string;
  code: string;
}

async function world(): Promise<World> {
  const owner = await register('owner');
  const server = await new ServerService(db().fork()).createServer(owner, { name: 'Voice Guild' });
  const [{ id: textId }] = await db().sql<{ id: string }>(
    `select id::text from "Channel" where "serverId" = $1 and type = 'GUILD_TEXT'`,
    [server.id],
  );
  const invite = await new InviteService(db().fork()).createInvite(owner, textId, { maxAge: 0 });
  return { owner, server, textId, code: invite.code };
}

async function joined(w: World, name = 'member'): Promise<User> {
  const user = await register(name);
  await memberships().acceptInvite(user, w.code);
  return user;
}

/** A voice (or stage) channel made directly in the database. */
async function voiceChannel(
  serverId: string,
  userLimit = 0,
  type: 'GUILD_VOICE' | 'GUILD_STAGE_VOICE' = 'GUILD_VOICE',
): Promise<string> {
  const id = nextSnowflake();
  await db().sql(
    `insert into "Channel" (id, "serverId", type, name, bitrate, "userLimit") values ($1, $2, $3, $4, 64000, $5)`,
    [id, serverId, type, `vc${id.slice(-4)}`, userLimit],
  );
  return id;
}

async function role(serverId: string, permissions: bigint, position: number, userIds: string[] = []): Promise<string> {
  const id = nextSnowflake();
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

async function denyEveryone(serverId: string, channelId: string, deny: bigint): Promise<void> {
  await db().sql(
    `insert into "PermissionOverwrite" ("channelId", "targetId", type, allow, deny) values ($1, $2, 'ROLE', 0, $3)`,
    [channelId, serverId, deny.toString()],
  );
}

/** Row counts of everything a voice operation may write. */
async function counts() {
  const [row] = await db().sql<Record<string, number>>(
    `select (select count(*)::int from "VoiceState") as states,
            (select count(*)::int from "VoiceSession") as sessions,
            (select count(*)::int from "VoiceSession" where "endedAt" is null) as open,
            (select count(*)::int from "DomainEvent") as events,
            (select count(*)::int from "AuditLogEntry") as audit,
            (select coalesce(json_agg(v order by v."userId"), '[]') from "VoiceState" v)::text as "stateRows"`,
  );
  return row;
}

/** The action fails with `error` and writes nothing at all. */
async function refused(
  action: () => Promise<unknown>,
  error: abstract new (...args: never[]) => Error,
  details?: Record<string, unknown>,
) {
  const before = await counts();
  const failure = await action().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(failure).toBeInstanceOf(error);
  if (details) expect(failure).toMatchObject(details);
  expect(await counts()).toEqual(before);
  return failure;
}

const stateRow = async (userId: string) =>
  (
    await db().sql<Record<string, unknown>>(
      `select "channelId"::text, "serverId"::text, "selfMute", "selfDeaf", "selfVideo", "selfStream", "serverMute",
        "serverDeaf", suppress, "requestToSpeakAt" from "VoiceState" where "userId" = $1`,
      [userId],
    )
  )[0];

const sessionsOf = (userId: string) =>
  db().sql<{ channelId: string; endedAt: Date | null; durationSeconds: number | null; exact: number | null }>(
    `select "channelId"::text, "endedAt", "durationSeconds", floor(extract(epoch
      from "endedAt" - "startedAt"))::int as exact from "VoiceSession" where "userId" = $1 order by "startedAt", id`,
    [userId],
  );

const voiceEvents = (serverId: string, since: string) =>
  db().sql<{ payload: Record<string, unknown>; channelId: string | null }>(
    `select payload, "channelId"::text from "DomainEvent" where type = 'VOICE_STATE_UPDATE' and "serverId" = $1
      and id > $2 order by id`,
    [serverId, since],
  );

const lastEventId = async () =>
  (await db().sql<{ id: string }>(`select coalesce(max(id), 0)::text as id from "DomainEvent"`))[0].id;

const audits = (serverId: string, action: number) =>
  db().sql<{ actorId: string; targetId: string; changes: unknown[] }>(
    `select "actorId"::text, "targetId"::text, changes from "AuditLogEntry" where "serverId" = $1 and "actionType" = $2
      order by id`,
    [serverId, action],
  );

describe('joinVoice', () => {
  it('puts the member in the channel: one voice state, one open session, VOICE_STATE_UPDATE in the same unit of work', async () => {
    const w = await world();
    const alice = await joined(w, 'alice');
    const vc = await voiceChannel(w.server.id);
    const since = await lastEventId();
    const member = await loadMember(w.server.id, alice.id);
    const state = await member.joinVoice(vc, { selfMute: true, sessionId: 'gw-1' });
    expect(state.channel.id).toBe(vc);
    expect(await stateRow(alice.id)).toMatchObject({
      channelId: vc,
      serverId: w.server.id,
      selfMute: true,
      selfDeaf: false,
      suppress: false,
    });
    const sessions = await sessionsOf(alice.id);
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({ channelId: vc, endedAt: null, durationSeconds: null });
    const events = await voiceEvents(w.server.id, since);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      channelId: vc,
      payload: { channelId: vc, userId: alice.id, sessionId: 'gw-1', selfMute: true },
    });
    // The queries: who is in the channel, who is in the server's voice channels.
    expect((await voiceStates().statesIn(vc)).map((s) => s.user.id)).toEqual([alice.id]);
    expect((await voiceStates().statesInServer(w.server.id)).map((s) => [s.user.id, s.channel.id])).toEqual([
      [alice.id, vc],
    ]);
  });

  it('refuses, writing nothing: a text channel, an unknown channel, a non-member, a banned user, no CONNECT, no VIEW_CHANNEL, a timeout, a full channel', async () => {
    const w = await world();
    const alice = await joined(w, 'alice');
    const outsider = await register('outsider');
    const vc = await voiceChannel(w.server.id);
    await refused(() => voice().joinVoice(alice, w.textId), NotAVoiceChannel, {
      code: 'NOT_A_VOICE_CHANNEL',
      channelId: w.textId,
    });
    await refused(() => voice().joinVoice(alice, nextSnowflake()), NotFound);
    await refused(() => voice().joinVoice(outsider, vc), NotAMember);
    await refused(() => voice().joinVoice(alice, 'not-an-id'), ValidationFailed);

    const banned = await joined(w, 'banned');
    await (await loadMember(w.server.id, w.owner.id)).ban(banned, { reason: 'spam' });
    await refused(() => voice().joinVoice(banned, vc), UserBanned);

    const noConnect = await voiceChannel(w.server.id);
    await denyEveryone(w.server.id, noConnect, F.CONNECT);
    await refused(() => voice().joinVoice(alice, noConnect), MissingPermission, { permissions: ['CONNECT'] });
    const hidden = await voiceChannel(w.server.id);
    await denyEveryone(w.server.id, hidden, F.VIEW_CHANNEL);
    await refused(() => voice().joinVoice(alice, hidden), MissingPermission);
    // The owner ignores overwrites.
    await voice().joinVoice(w.owner, noConnect);

    const timedOut = await joined(w, 'timedout');
    await (await loadMember(w.server.id, w.owner.id)).timeout(timedOut, new Date(Date.now() + 3_600_000));
    await refused(() => voice().joinVoice(timedOut, vc), MissingPermission, { permissions: ['CONNECT'] });

    const small = await voiceChannel(w.server.id, 1);
    const bob = await joined(w, 'bob');
    await voice().joinVoice(bob, small);
    const full = await refused(() => voice().joinVoice(alice, small), VoiceChannelFull, {
      code: 'VOICE_CHANNEL_FULL',
      limit: 1,
      channelId: small,
    });
    expect((full as VoiceChannelFull).toJSON()).toMatchObject({ code: 'VOICE_CHANNEL_FULL', details: { limit: 1 } });
  });

  it('reads the channel fresh when the EntityManager already holds it: an overwrite added since applies', async () => {
    const w = await world();
    const alice = await joined(w, 'alice');
    const vc = await voiceChannel(w.server.id);
    const em = db().fork();
    expect((await em.findOneOrFail(Channel, vc, { populate: ['overwrites'] })).overwrites).toHaveLength(0);
    await denyEveryone(w.server.id, vc, F.CONNECT);
    await refused(() => voice(em).joinVoice(alice, vc), MissingPermission);
  });

  it('refuses a banned user who still holds a membership (a ban row written outside the package), writing nothing', async () => {
    const w = await world();
    const alice = await joined(w, 'alice');
    const vc = await voiceChannel(w.server.id);
    await db().sql(`insert into "Ban" ("serverId", "userId", reason) values ($1, $2, 'outside')`, [
      w.server.id,
      alice.id,
    ]);
    await refused(() => voice().joinVoice(alice, vc), UserBanned);
  });

  it('MOVE_MEMBERS bypasses the user limit; rejoining the same channel keeps the session', async () => {
    const w = await world();
    const [a, b, mod] = [await joined(w, 'a'), await joined(w, 'b'), await joined(w, 'mod')];
    await role(w.server.id, F.MOVE_MEMBERS, 5, [mod.id]);
    const small = await voiceChannel(w.server.id, 1);
    await voice().joinVoice(a, small);
    await refused(() => voice().joinVoice(b, small), VoiceChannelFull);
    await voice().joinVoice(mod, small);
    expect(await voiceStates().statesIn(small)).toHaveLength(2);
    await voice().joinVoice(a, small, { selfDeaf: true });
    expect(await sessionsOf(a.id)).toHaveLength(1);
    expect(await stateRow(a.id)).toMatchObject({ selfDeaf: true });
    // Joining again with nothing new writes nothing.
    const before = await counts();
    await voice().joinVoice(a, small, { selfDeaf: true });
    expect(await counts()).toEqual(before);
  });

  it('joining another channel is a move: the old session closes with its duration, a new one opens, one state', async () => {
    const w = await world();
    const alice = await joined(w, 'alice');
    const [one, two] = [await voiceChannel(w.server.id), await voiceChannel(w.server.id)];
    await voice().joinVoice(alice, one);
    await db().sql(`update "VoiceSession" set "startedAt" = "startedAt" - interval '95 seconds' where "userId" = $1`, [
      alice.id,
    ]);
    const since = await lastEventId();
    await (await loadMember(w.server.id, alice.id)).moveTo(two);
    const sessions = await sessionsOf(alice.id);
    expect(sessions.map((s) => s.channelId)).toEqual([one, two]);
    expect(sessions[0].durationSeconds).toBeGreaterThanOrEqual(95);
    expect(sessions[0].durationSeconds).toBe(sessions[0].exact);
    expect(sessions[1]).toMatchObject({ endedAt: null, durationSeconds: null });
    expect(await stateRow(alice.id)).toMatchObject({ channelId: two });
    expect((await voiceEvents(w.server.id, since)).map((e) => e.payload.channelId)).toEqual([two]);
  });

  it('a move to another server leaves the first (event with channel null there) and joins the second', async () => {
    const w1 = await world();
    const w2 = await world();
    const alice = await joined(w1, 'alice');
    await memberships().acceptInvite(alice, w2.code);
    const [c1, c2] = [await voiceChannel(w1.server.id), await voiceChannel(w2.server.id)];
    await voice().joinVoice(alice, c1);
    const since = await lastEventId();
    await voice().joinVoice(alice, c2);
    expect(await stateRow(alice.id)).toMatchObject({ channelId: c2, serverId: w2.server.id });
    expect((await voiceEvents(w1.server.id, since)).map((e) => e.payload.channelId)).toEqual([null]);
    expect((await voiceEvents(w2.server.id, since)).map((e) => e.payload.channelId)).toEqual([c2]);
    expect((await sessionsOf(alice.id)).map((s) => s.endedAt === null)).toEqual([false, true]);
  });
});

describe('leaving, moving and moderating', () => {
  it('leaveVoice closes the session and removes the state; NotInVoice when not connected', async () => {
    const w = await world();
    const alice = await joined(w, 'alice');
    const vc = await voiceChannel(w.server.id);
    await refused(() => voice().leaveVoice(alice), NotInVoice);
    await voice().joinVoice(alice, vc);
    const since = await lastEventId();
    await (await loadMember(w.server.id, alice.id)).leaveVoice();
    expect(await stateRow(alice.id)).toBeUndefined();
    const [s] = await sessionsOf(alice.id);
    expect(s.endedAt).not.toBeNull();
    expect(s.durationSeconds).toBe(s.exact);
    expect((await voiceEvents(w.server.id, since)).map((e) => [e.payload.channelId, e.channelId])).toEqual([
      [null, vc],
    ]);
  });

  it('a rolled-back leave leaves the session open and the state in place', async () => {
    const w = await world();
    const alice = await joined(w, 'alice');
    const vc = await voiceChannel(w.server.id);
    await voice().joinVoice(alice, vc);
    const before = await counts();
    await expect(
      transact(db().fork(), async (tx) => {
        await voice(tx).leaveVoice(alice);
        throw new Error('the caller fails after the leave');
      }),
    ).rejects.toThrow('the caller fails after the leave');
    expect(await counts()).toEqual(before);
    expect(await sessionsOf(alice.id)).toMatchObject([{ endedAt: null }]);
  });

  it('moveMember needs MOVE_MEMBERS and the hierarchy; writes MEMBER_MOVE (26)', async () => {
    const w = await world();
    const [alice, mod, peer] = [await joined(w, 'alice'), await joined(w, 'mod'), await joined(w, 'peer')];
    await role(w.server.id, F.MOVE_MEMBERS, 5, [mod.id, peer.id]);
    const [one, two] = [await voiceChannel(w.server.id, 1), await voiceChannel(w.server.id, 1)];
    await voice().joinVoice(alice, one);
    await voice().joinVoice(w.owner, two);
    await voice().joinVoice(peer, one);
    await refused(() => voice().moveMember(alice, peer, two), MissingPermission, { permissions: ['MOVE_MEMBERS'] });
    await refused(() => voice().moveMember(mod, w.owner, one), HierarchyViolation);
    await refused(() => voice().moveMember(mod, peer, two), HierarchyViolation); // same top role
    await refused(() => voice().moveMember(mod, mod, two), NotInVoice);
    // The limit does not hold a moderator's move.
    await (await loadMember(w.server.id, mod.id)).moveMember(alice, two, { reason: 'room change' });
    expect(await stateRow(alice.id)).toMatchObject({ channelId: two });
    expect(await audits(w.server.id, 26)).toEqual([
      { actorId: mod.id, targetId: alice.id, changes: [{ key: 'channel_id', old: one, new: two }] },
    ]);
    expect((await sessionsOf(alice.id)).map((s) => s.endedAt === null)).toEqual([false, true]);
  });

  it('disconnect needs MOVE_MEMBERS; writes MEMBER_DISCONNECT (27) and ends the session', async () => {
    const w = await world();
    const [alice, mod] = [await joined(w, 'alice'), await joined(w, 'mod')];
    const vc = await voiceChannel(w.server.id);
    await voice().joinVoice(alice, vc);
    const ownerMember = await loadMember(w.server.id, w.owner.id);
    await refused(() => voice().disconnect(mod, w.server.id, alice), MissingPermission);
    await refused(() => ownerMember.disconnect(mod), NotInVoice);
    await ownerMember.disconnect(alice);
    expect(await stateRow(alice.id)).toBeUndefined();
    expect(await sessionsOf(alice.id)).toMatchObject([{ endedAt: expect.any(Date) }]);
    expect(await audits(w.server.id, 27)).toEqual([
      { actorId: w.owner.id, targetId: alice.id, changes: [{ key: 'channel_id', old: vc }] },
    ]);
  });

  it('self mute, deaf, video and stream change the state with an event; no change writes nothing', async () => {
    const w = await world();
    const alice = await joined(w, 'alice');
    const vc = await voiceChannel(w.server.id);
    const member = await loadMember(w.server.id, alice.id);
    await refused(() => member.setSelfMute(true), NotInVoice);
    await member.joinVoice(vc);
    const since = await lastEventId();
    await member.setSelfMute(true);
    await member.setSelfDeaf(true);
    await member.setSelfVideo(true);
    await member.setSelfStream(true);
    expect(await stateRow(alice.id)).toMatchObject({
      selfMute: true,
      selfDeaf: true,
      selfVideo: true,
      selfStream: true,
    });
    expect(await voiceEvents(w.server.id, since)).toHaveLength(4);
    const before = await counts();
    await member.setSelfMute(true);
    expect(await counts()).toEqual(before);
    await refused(() => voice().setSelfState(alice, { selfMute: 'yes' as unknown as boolean }), ValidationFailed);
  });

  it('serverMute (MUTE_MEMBERS) and serverDeafen (DEAFEN_MEMBERS) write MEMBER_UPDATE (24) and stick to the membership', async () => {
    const w = await world();
    const [alice, mod] = [await joined(w, 'alice'), await joined(w, 'mod')];
    const [one, two] = [await voiceChannel(w.server.id), await voiceChannel(w.server.id)];
    await voice().joinVoice(alice, one);
    await refused(() => voice().serverMute(mod, w.server.id, alice, true), MissingPermission, {
      permissions: ['MUTE_MEMBERS'],
    });
    await role(w.server.id, F.MUTE_MEMBERS, 5, [mod.id]);
    await refused(() => voice().serverDeafen(mod, w.server.id, alice, true), MissingPermission, {
      permissions: ['DEAFEN_MEMBERS'],
    });
    const modMember = await loadMember(w.server.id, mod.id);
    await modMember.serverMute(alice, true, { reason: 'noise' });
    await (await loadMember(w.server.id, w.owner.id)).serverDeafen(alice, true);
    expect(await stateRow(alice.id)).toMatchObject({ serverMute: true, serverDeaf: true });
    expect(await audits(w.server.id, 24)).toEqual([
      { actorId: mod.id, targetId: alice.id, changes: [{ key: 'mute', old: false, new: true }] },
      { actorId: w.owner.id, targetId: alice.id, changes: [{ key: 'deaf', old: false, new: true }] },
    ]);
    // The membership carries it into the next channel.
    await voice().leaveVoice(alice);
    await voice().joinVoice(alice, two);
    expect(await stateRow(alice.id)).toMatchObject({ serverMute: true, serverDeaf: true });
    const before = await counts();
    await modMember.serverMute(alice, true);
    expect(await counts()).toEqual(before);
  });

  it('stage: the audience is suppressed, raises hands (REQUEST_TO_SPEAK) and is invited to speak (MUTE_MEMBERS)', async () => {
    const w = await world();
    const [alice, mod] = [await joined(w, 'alice'), await joined(w, 'mod')];
    const stage = await voiceChannel(w.server.id, 0, 'GUILD_STAGE_VOICE');
    const vc = await voiceChannel(w.server.id);
    const member = await loadMember(w.server.id, alice.id);
    await member.joinVoice(stage);
    expect(await stateRow(alice.id)).toMatchObject({ suppress: true, requestToSpeakAt: null });
    await member.requestToSpeak();
    expect((await stateRow(alice.id)).requestToSpeakAt).toBeInstanceOf(Date);
    await refused(() => member.setSuppress(alice, false), MissingPermission, { permissions: ['MUTE_MEMBERS'] });
    await refused(() => voice().inviteToSpeak(mod, w.server.id, alice), MissingPermission);
    await role(w.server.id, F.MUTE_MEMBERS, 5, [mod.id]);
    await (await loadMember(w.server.id, mod.id)).inviteToSpeak(alice);
    expect(await stateRow(alice.id)).toMatchObject({ suppress: false, requestToSpeakAt: null });
    await member.setSuppress(alice, true); // stepping down needs nothing
    expect(await stateRow(alice.id)).toMatchObject({ suppress: true });
    await member.joinVoice(vc);
    await refused(() => member.requestToSpeak(), NotAVoiceChannel);
  });
});

describe('membership and channel changes end the stay in the same unit of work', () => {
  it('kick, ban and leave end the session and remove the state', async () => {
    const w = await world();
    const [k, b, l] = [await joined(w, 'k'), await joined(w, 'b'), await joined(w, 'l')];
    const vc = await voiceChannel(w.server.id);
    for (const u of [k, b, l]) await voice().joinVoice(u, vc);
    const owner = await loadMember(w.server.id, w.owner.id);
    await owner.kick(k);
    await owner.ban(b, { reason: 'rules' });
    await (await loadMember(w.server.id, l.id)).leave();
    for (const u of [k, b, l]) {
      expect(await stateRow(u.id)).toBeUndefined();
      const [s] = await sessionsOf(u.id);
      expect(s.endedAt).not.toBeNull();
      expect(s.durationSeconds).toBe(s.exact);
    }
    expect(await voiceStates().statesIn(vc)).toEqual([]);
  });

  it('a kick that rolls back keeps the member in voice with the session open (one transaction)', async () => {
    const w = await world();
    const alice = await joined(w, 'alice');
    const vc = await voiceChannel(w.server.id);
    await voice().joinVoice(alice, vc);
    const before = await counts();
    await expect(
      transact(db().fork(), async (tx) => {
        await memberships(tx).kick(w.owner, w.server.id, alice);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await counts()).toEqual(before);
    expect(await stateRow(alice.id)).toMatchObject({ channelId: vc });
  });

  it('a kick from another server leaves the voice stay elsewhere alone', async () => {
    const w1 = await world();
    const w2 = await world();
    const alice = await joined(w1, 'alice');
    await memberships().acceptInvite(alice, w2.code);
    const c2 = await voiceChannel(w2.server.id);
    await voice().joinVoice(alice, c2);
    await (await loadMember(w1.server.id, w1.owner.id)).kick(alice);
    expect(await stateRow(alice.id)).toMatchObject({ channelId: c2 });
  });

  it('channel deletion ends every stay in it; the sessions survive as history', async () => {
    const w = await world();
    const [a, b] = [await joined(w, 'a'), await joined(w, 'b')];
    const vc = await voiceChannel(w.server.id);
    await voice().joinVoice(a, vc);
    await voice().joinVoice(b, vc);
    const since = await lastEventId();
    await channels().deleteChannel(w.owner, w.server.id, vc);
    expect(await db().sql(`select 1 from "VoiceState" where "channelId" = $1`, [vc])).toEqual([]);
    const rows = await db().sql<{ endedAt: Date | null; durationSeconds: number; exact: number }>(
      `select "endedAt", "durationSeconds", floor(extract(epoch from "endedAt" - "startedAt"))::int as exact
        from "VoiceSession" where "channelId" = $1`,
      [vc],
    );
    expect(rows).toHaveLength(2);
    for (const r of rows) expect(r.durationSeconds).toBe(r.exact);
    const types = await db().sql<{ type: string }>(
      `select type from "DomainEvent" where "serverId" = $1 and id > $2 order by id`,
      [w.server.id, since],
    );
    expect(types.filter((t) => t.type === 'VOICE_STATE_UPDATE')).toHaveLength(2);
  });
});

describe('the stale-session sweeper and voice time', () => {
  it('closes stays whose last heartbeat is older than the threshold, and orphan sessions; heartbeats keep a stay alive', async () => {
    const w = await world();
    const [stale, alive, orphan] = [await joined(w, 'stale'), await joined(w, 'alive'), await joined(w, 'orphan')];
    const vc = await voiceChannel(w.server.id);
    for (const u of [stale, alive, orphan]) await voice().joinVoice(u, vc);
    await db().sql(
      `update "VoiceState" set "lastHeartbeatAt" = now() - interval '10 minutes' where "userId" in ($1, $2)`,
      [stale.id, alive.id],
    );
    await db().sql(`update "VoiceSession" set "startedAt" = now() - interval '10 minutes' where "userId" = $1`, [
      orphan.id,
    ]);
    await db().sql(`delete from "VoiceState" where "userId" = $1`, [orphan.id]); // as if removed outside the package
    expect(await voice().heartbeat(alive)).toBe(true);
    expect(await voice().heartbeat(await register('nobody'))).toBe(false);
    expect(await voice().closeStaleVoiceSessions(5 * 60_000)).toBe(2);
    expect(await stateRow(stale.id)).toBeUndefined();
    expect(await stateRow(alive.id)).toMatchObject({ channelId: vc });
    for (const u of [stale, orphan]) {
      const [s] = await sessionsOf(u.id);
      expect(s.endedAt).not.toBeNull();
      expect(s.durationSeconds).toBe(s.exact);
    }
    expect(await sessionsOf(alive.id)).toMatchObject([{ endedAt: null }]);
    expect(await voice().closeStaleVoiceSessions(5 * 60_000)).toBe(0);
  });

  it("voiceTime sums a user's sessions in a server, clipped to the period", async () => {
    const w = await world();
    const alice = await joined(w, 'alice');
    const vc = await voiceChannel(w.server.id);
    const t = (iso: string) => new Date(`2026-01-01T${iso}Z`);
    const insert = (start: string, end: string) =>
      db().sql(
        `insert into "VoiceSession" (id, "userId", "channelId", "serverId", "startedAt", "endedAt", "durationSeconds")
          values ($1, $2, $3, $4, $5, $6, $7)`,
        [nextSnowflake(), alice.id, vc, w.server.id, t(start), t(end), (t(end).getTime() - t(start).getTime()) / 1000],
      );
    await insert('10:00:00', '10:30:00');
    await insert('11:00:00', '12:00:00');
    expect(await voiceStates().voiceTime(alice, w.server.id, { from: t('00:00:00'), to: t('23:00:00') })).toBe(5400);
    expect(await voiceStates().voiceTime(alice, w.server.id, { from: t('10:15:00'), to: t('11:15:00') })).toBe(1800);
    expect(await voiceStates().voiceTime(alice, nextSnowflake(), { from: t('00:00:00'), to: t('23:00:00') })).toBe(0);
    await expect(
      voiceStates().voiceTime(alice, w.server.id, { from: t('12:00:00'), to: t('11:00:00') }),
    ).rejects.toBeInstanceOf(ValidationFailed);
  });
});
