import { beforeAll, describe, expect, it } from 'vitest';
import type { EntityManager } from '@mikro-orm/postgresql';
import { DomainError, NotInVoice, VoiceChannelFull } from '../src/domain/errors';
import { PermissionFlags as F } from '../src/domain/permissions';
import { nextSnowflake } from '../src/domain/snowflake';
import { Server } from '../src/entities/server/Server';
import { User } from '../src/entities/user/User';
import { checkInvariants } from '../src/db/invariants';
import { fulfilled, race, rejected, useTestDatabase } from './support/db';
import { seedScenario, type Scenario } from './support/scenarios';
import { ChannelService } from '../src/servers/channel-service';
import { InviteService } from '../src/servers/invite-service';
import { ServerService } from '../src/servers/server-service';
import { MembershipService } from '../src/servers/membership-service';
import { VoiceService } from '../src/voice/voice-service';
import { UserService } from '../src/identity/user-service';

const db = useTestDatabase({ poolSize: 30 });
let small: Scenario;
beforeAll(async () => {
  small = await seedScenario(db());
}, 60_000);

let seq = 0;
const voice = (em: EntityManager = db().fork()) => new VoiceService(em);
const memberships = (em: EntityManager = db().fork()) => new MembershipService(em);

interface World {
  owner: User;
  server: Server;
  code: string;
}

async function world(): Promise<World> {
  const owner = await new UserService(db().fork()).register({ username: `owner${++seq}` });
  const server = await new ServerService(db().fork()).createServer(owner, { name: 'Race Guild' });
  const [{ id: textId }] = await db().sql<{ id: string }>(
    `select id::text from "Channel" where "serverId" = $1 and type = 'GUILD_TEXT'`,
    [server.id],
  );
  const invite = await new InviteService(db().fork()).createInvite(owner, textId, { maxAge: 0 });
  return { owner, server, code: invite.code };
}

/** n users registered and joined to the world's server, concurrently. */
async function members(w: World, n: number, prefix: string): Promise<User[]> {
  const results = await race(db(), n, async (em, i) => {
    const user = await new UserService(em).register({ username: `${prefix}${++seq}x${i}` });
    await memberships(em).acceptInvite(user, w.code);
    return user;
  });
  expect(rejected(results)).toEqual([]);
  return fulfilled(results);
}

async function voiceChannel(serverId: string, userLimit = 0): Promise<string> {
  const id = nextSnowflake();
  await db().sql(
    `insert into "Channel" (id, "serverId", type, name, bitrate, "userLimit") values ($1, $2, 'GUILD_VOICE', $3, 64000,
      $4)`,
    [id, serverId, `vc${id.slice(-4)}`, userLimit],
  );
  return id;
}

/** The invariants every voice history must satisfy, read from the database. */
async function assertConsistent(): Promise<void> {
  // Closed sessions carry their exact duration.
  const wrong = await db().sql(
    `select id from "VoiceSession" where "endedAt" is not null and "durationSeconds" <> floor(extract(epoch
      from "endedAt" - "startedAt"))`,
  );
  expect(wrong).toEqual([]);
  // The domain's invariants: open sessions are exactly the voice states (same user, channel and
  // server), one state per user, states only in voice channels of servers the user belongs to.
  expect(await checkInvariants(db().fork())).toEqual([]);
  // Per user, each session ends (exactly once) no later than the next one starts: no overlapping stays.
  const overlaps = await db().sql(
    `select id from (select id, "endedAt", lead("startedAt") over (partition by "userId" order by "startedAt",
      id) as next from "VoiceSession") x
      where next is not null and ("endedAt" is null or "endedAt" > next)`,
  );
  expect(overlaps).toEqual([]);
}

describe('voice races, each operation on its own connection', () => {
  it('50 concurrent joins into a channel with userLimit 10 give exactly 10 voice states', async () => {
    const w = await world();
    const users = await members(w, 50, 'joiner');
    const vc = await voiceChannel(w.server.id, 10);
    const results = await race(db(), 50, (em, i) => voice(em).joinVoice(users[i], vc));
    expect(fulfilled(results)).toHaveLength(10);
    const failures = rejected(results);
    expect(failures).toHaveLength(40);
    for (const f of failures) expect(f).toBeInstanceOf(VoiceChannelFull);
    const [{ n }] = await db().sql<{ n: number }>(
      `select count(*)::int as n from "VoiceState" where "channelId" = $1`,
      [vc],
    );
    expect(n).toBe(10);
    const [{ open }] = await db().sql<{ open: number }>(
      `select count(*)::int as open from "VoiceSession" where "channelId" = $1 and "endedAt" is null`,
      [vc],
    );
    expect(open).toBe(10);
    await assertConsistent();
  });

  it("the small scenario's full voice channel refuses every plain member joining at once, and writes nothing", async () => {
    const staff = new Set([small.owner, small.admin, ...small.server.moderatorIds]);
    const joiners = small.server.memberIds.filter((u) => !staff.has(u) && !small.world.inVoice.has(u));
    expect(joiners.length).toBeGreaterThanOrEqual(4);
    const before = await db().sql(`select "userId"::text from "VoiceState" where "channelId" = $1 order by 1`, [
      small.fullVoice.channelId,
    ]);
    expect(before).toHaveLength(small.fullVoice.userLimit);
    const results = await race(db(), joiners.length, (em, i) =>
      voice(em).joinVoice(joiners[i], small.fullVoice.channelId),
    );
    expect(fulfilled(results)).toEqual([]);
    for (const failure of rejected(results)) expect(failure).toBeInstanceOf(VoiceChannelFull);
    expect(
      await db().sql(`select "userId"::text from "VoiceState" where "channelId" = $1 order by 1`, [
        small.fullVoice.channelId,
      ]),
    ).toEqual(before);
    await assertConsistent();
  });

  it('a user joining 20 channels at once ends in exactly one of them with one open session', async () => {
    const w = await world();
    const [alice] = await members(w, 1, 'alice');
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(await voiceChannel(w.server.id));
    const results = await race(db(), 20, (em, i) => voice(em).joinVoice(alice, ids[i]));
    expect(rejected(results)).toEqual([]);
    const states = await db().sql<{ channelId: string }>(
      `select "channelId"::text from "VoiceState" where "userId" = $1`,
      [alice.id],
    );
    expect(states).toHaveLength(1);
    expect(ids).toContain(states[0].channelId);
    const sessions = await db().sql<{ open: number; total: number }>(
      `select count(*) filter (where "endedAt" is null)::int as open, count(*)::int as total from "VoiceSession"
        where "userId" = $1`,
      [alice.id],
    );
    expect(sessions[0]).toEqual({ open: 1, total: 20 });
    await assertConsistent();
  });

  it('200 concurrent joins, leaves and moves close every session exactly once with its duration; open sessions equal voice states', async () => {
    const w = await world();
    const users = await members(w, 25, 'mixer');
    const [mod] = await members(w, 1, 'mod');
    await db().sql(
      `insert into "Role" (id, "serverId", name, permissions, position) values ($1, $2, 'movers', $3, 5)`,
      [nextSnowflake(), w.server.id, F.MOVE_MEMBERS.toString()],
    );
    await db().sql(
      `insert into "ServerMemberRole" ("serverId", "userId", "roleId") select $1, $2, id from "Role"
        where "serverId" = $1 and name = 'movers'`,
      [w.server.id, mod.id],
    );
    const ids = [
      await voiceChannel(w.server.id, 6),
      await voiceChannel(w.server.id, 6),
      await voiceChannel(w.server.id),
      await voiceChannel(w.server.id),
    ];
    // Everyone starts somewhere, so moves and leaves have something to act on.
    for (const [i, u] of users.entries()) await voice().joinVoice(u, ids[2 + (i % 2)]);
    let rng = 42;
    const random = (n: number) => ((rng = (rng * 1103515245 + 12345) % 2 ** 31), Math.floor((rng / 2 ** 31) * n));
    const plan = Array.from({ length: 200 }, () => ({
      op: random(4),
      user: users[random(users.length)],
      channel: ids[random(ids.length)],
    }));
    const results = await race<unknown>(db(), 200, (em, i) => {
      const { op, user, channel } = plan[i];
      if (op === 0) return voice(em).leaveVoice(user);
      // The moderator's moves bypass the limit, so they go to the unlimited channels only.
      if (op === 1) return voice(em).moveMember(mod, user, ids[2 + (ids.indexOf(channel) % 2)]);
      return voice(em).joinVoice(user, channel);
    });
    for (const failure of rejected(results)) {
      // Only the rules may refuse: a full channel, or a leave / move of someone not connected.
      expect(failure).toBeInstanceOf(DomainError);
      expect([VoiceChannelFull, NotInVoice].some((type) => failure instanceof type)).toBe(true);
    }
    const refusals = rejected(results).length;
    expect(fulfilled(results).length, `${refusals} refused`).toBeGreaterThan(100);
    await assertConsistent();
    const over = await db().sql(
      `select c.id from "Channel" c where c.id = any($1::bigint[]) and c."userLimit" > 0
          and (select count(*) from "VoiceState" v where v."channelId" = c.id) > c."userLimit"`,
      [ids],
    );
    expect(over).toEqual([]);
  });

  it('kicks racing joins never leave a voice state without a membership', async () => {
    const w = await world();
    const users = await members(w, 15, 'kicked');
    const vc = await voiceChannel(w.server.id);
    const results = await race<unknown>(db(), 30, (em, i) =>
      i % 2 === 0 ? voice(em).joinVoice(users[i >> 1], vc) : memberships(em).kick(w.owner, w.server.id, users[i >> 1]),
    );
    for (const failure of rejected(results)) expect((failure as DomainError).code).toBe('NOT_A_MEMBER');
    // No voice state without a membership: checkInvariants' voice rule.
    await assertConsistent();
  });

  it('a channel deletion racing joins into it and moves out of it leaves no state there and every session closed once', async () => {
    const w = await world();
    const users = await members(w, 20, 'deleted');
    const [doomed, other] = [await voiceChannel(w.server.id), await voiceChannel(w.server.id)];
    for (const u of users.slice(0, 10)) await voice().joinVoice(u, doomed);
    const results = await race<unknown>(db(), 21, (em, i) => {
      if (i === 20) return new ChannelService(em).deleteChannel(w.owner, w.server.id, doomed);
      return voice(em).joinVoice(users[i], i < 10 && i % 2 === 0 ? other : doomed);
    });
    for (const failure of rejected(results)) expect((failure as DomainError).code).toBe('NOT_FOUND');
    expect(results[20].status).toBe('fulfilled');
    expect(await db().sql(`select 1 from "VoiceState" where "channelId" = $1`, [doomed])).toEqual([]);
    expect(
      await db().sql(`select 1 from "VoiceSession" where "channelId" = $1 and "endedAt" is null`, [doomed]),
    ).toEqual([]);
    await assertConsistent();
  });
});
