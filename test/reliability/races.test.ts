/**
 * The race suite: every invariant-bearing operation run by many clients at once, each on its own
 * forked EntityManager and pooled connection, with the invariant checked afterwards from the
 * database itself. RACE_OPS sets the operations per invariant (200 in CI; the long run uses 2,000).
 */
import { describe, expect, it } from 'vitest';
import type { EntityManager } from '@mikro-orm/postgresql';
import { DomainError } from '../../src/domain/errors';
import { nextSnowflake } from '../../src/domain/snowflake';
import { race, type TestDatabase, useTestDatabase } from '../support/db';
import { checkInvariants } from '../../src/db/invariants';
import { messagingHelpers } from '../support/messaging';
import { EmojiService } from '../../src/servers/expression-service';
import { InviteService } from '../../src/servers/invite-service';
import { RoleService } from '../../src/servers/role-service';
import { RelationshipService } from '../../src/identity/relationship-service';
import { VoiceService } from '../../src/voice/voice-service';
import { UserService } from '../../src/identity/user-service';

const OPS = Number(process.env.RACE_OPS ?? 200);
const db = useTestDatabase({ poolSize: 30 });
const h = messagingHelpers(db);

const one = async <T = number>(sql: string, params: unknown[] = []) =>
  Object.values((await db().sql<Record<string, T>>(sql, params))[0])[0];
const relationships = (em: EntityManager = h.fork()) => new RelationshipService(em);
const usersNamed = (prefix: string, n: number) => Promise.all(Array.from({ length: n }, () => h.register(prefix)));

/** Runs OPS operations at once; anything but success or a DomainError fails the test. */
async function hammer<T>(database: TestDatabase, operation: (em: EntityManager, i: number) => Promise<T>) {
  const results = await race(database, OPS, operation);
  const raw = results.filter((r) => r.status === 'rejected' && !(r.reason instanceof DomainError));
  expect(raw.map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
  return {
    ok: results.filter((r) => r.status === 'fulfilled').length,
    refused: results.length - results.filter((r) => r.status === 'fulfilled').length,
  };
}

const tally: Record<string, { ok: number; refused: number }> = {};

describe(`race suite: ${OPS} concurrent operations per invariant`, () => {
  it('registrations of one username get distinct discriminators', async () => {
    tally.registration = await hammer(db(), (em) => new UserService(em).register({ username: 'Crowded' }));
    expect(await one(`select count(*)::int from "User" where lower(username) = 'crowded'`)).toBe(tally.registration.ok);
    expect(tally.registration.ok).toBe(OPS);
  });

  it('friend requests sent both ways at once end as one friendship per pair', async () => {
    const pairs = Math.floor(OPS / 2);
    const left = await usersNamed('left', pairs);
    const right = await usersNamed('right', pairs);
    tally.friendRequests = await hammer<unknown>(db(), (em, i) => {
      const p = i % pairs;
      return i < pairs
        ? relationships(em).sendFriendRequest(left[p], right[p])
        : relationships(em).sendFriendRequest(right[p], left[p]);
    });
    expect(
      await one(
        `select count(*)::int from "Relationship" where status = 'FRIENDS' and ("userAId" = any($1::bigint[])
          or "userBId" = any($1::bigint[]))`,
        [left.map((u) => u.id)],
      ),
    ).toBe(pairs);
  });

  it('a block racing an accept never leaves a friendship across a block', async () => {
    const pairs = Math.floor(OPS / 2);
    const senders = await usersNamed('asker', pairs);
    const receivers = await usersNamed('answerer', pairs);
    for (let p = 0; p < pairs; p++) await relationships().sendFriendRequest(senders[p], receivers[p]);
    tally.blockVsAccept = await hammer<unknown>(db(), (em, i) => {
      const p = i % pairs;
      return i < pairs
        ? relationships(em).acceptFriendRequest(receivers[p], senders[p])
        : relationships(em).block(senders[p], receivers[p]);
    });
    expect(
      await one(`select count(*)::int from "Relationship" where status = 'FRIENDS' and ("aBlocksB" or "bBlocksA")`),
    ).toBe(0);
    expect(
      await one(
        `select count(*)::int from "Relationship" where ("aBlocksB" or "bBlocksA") and ("userAId" = any($1::bigint[])
          or "userBId" = any($1::bigint[]))`,
        [senders.map((u) => u.id)],
      ),
    ).toBe(pairs);
  });

  it('DM opens of one pair make one channel', async () => {
    const [a, b] = await usersNamed('pen', 2);
    // Setup for the DM privacy rule: the pair share a server (which allows DMs by default).
    const shared = await h.world('Pen pals');
    for (const user of [a, b]) await h.memberships().acceptInvite(user, shared.code);
    tally.dmOpen = await hammer(db(), (em, i) => (i % 2 ? h.dms(em).openDM(a, b) : h.dms(em).openDM(b, a)));
    expect(
      await one(
        `select count(*)::int from "ChannelRecipient" r1 join "ChannelRecipient" r2 on r1."channelId" = r2."channelId"
          where r1."userId" = $1 and r2."userId" = $2`,
        [a.id, b.id],
      ),
    ).toBe(1);
  });

  it('an invite of max 10 uses admits 10', async () => {
    const w = await h.world('Invites');
    const invite = await new InviteService(h.fork()).createInvite(w.owner, w.textId, { maxUses: 10 });
    const joiners = await usersNamed('joiner', OPS);
    tally.inviteMaxUses = await hammer(db(), (em, i) => h.memberships(em).acceptInvite(joiners[i], invite.code));
    expect(tally.inviteMaxUses.ok).toBe(10);
    expect(await one(`select uses from "Invite" where code = $1`, [invite.code])).toBe(10);
  });

  it('a voice channel of user limit 5 holds 5', async () => {
    const w = await h.world('Voice');
    const channel = await h.channel(w.server.id, { type: 'GUILD_VOICE' });
    await db().sql(`update "Channel" set "userLimit" = 5, bitrate = 64000 where id = $1`, [channel]);
    const members = await Promise.all(Array.from({ length: OPS }, () => h.joined(w, 'talker')));
    tally.voiceLimit = await hammer(db(), (em, i) => new VoiceService(em).joinVoice(members[i], channel));
    expect(await one(`select count(*)::int from "VoiceState" where "channelId" = $1`, [channel])).toBe(5);
  });

  it('reactions with 30 emoji leave at most 20 distinct', async () => {
    const w = await h.world('Reactions');
    const reactors = await Promise.all(Array.from({ length: 20 }, () => h.joined(w, 'reactor')));
    const message = await h.messages().send(w.owner, w.textId, 'vote');
    const emoji = [...'😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙😚🙂🤗🤩🤔🤨😐😑😶🙄😏😣😥'];
    tally.reactions = await hammer(db(), (em, i) => h.reactions(em).react(reactors[i % 20], message.id, emoji[i % 30]));
    expect(
      await one(`select count(distinct "emojiKey")::int from "Reaction" where "messageId" = $1`, [message.id]),
    ).toBe(20);
  });

  it('role slots stop at 250 and emoji slots at 50', async () => {
    const w = await h.world('Slots');
    await db().sql(
      `insert into "Role" (id, "serverId", name, permissions, position) select (($2::bigint) + g), $1, 'filler', 0, g
        from generate_series(1, 240) g`,
      [w.server.id, nextSnowflake()],
    );
    tally.roleSlots = await hammer(db(), (em, i) =>
      new RoleService(em).createRole(w.owner, w.server.id, { name: `r${i}` }),
    );
    expect(await one(`select count(*)::int from "Role" where "serverId" = $1`, [w.server.id])).toBe(250);
    tally.emojiSlots = await hammer(db(), (em, i) =>
      new EmojiService(em).createEmoji(w.owner, w.server.id, { name: `e_${i}` }),
    );
    expect(await one(`select count(*)::int from "Emoji" where "serverId" = $1 and not animated`, [w.server.id])).toBe(
      50,
    );
  });

  it('memberCount follows joins and leaves', async () => {
    const w = await h.world('Count');
    const people = await usersNamed('visitor', Math.floor(OPS / 2));
    for (const p of people.slice(0, people.length / 2)) await h.memberships().acceptInvite(p, w.code);
    tally.memberCount = await hammer<unknown>(db(), (em, i) => {
      const p = people[i % people.length];
      return i < people.length ? h.memberships(em).acceptInvite(p, w.code) : h.memberships(em).leave(p, w.server.id);
    });
    expect(await one(`select "memberCount" from "Server" where id = $1`, [w.server.id])).toBe(
      await one(`select count(*)::int from "ServerMember" where "serverId" = $1`, [w.server.id]),
    );
  });

  it('pins stop at 250', async () => {
    const w = await h.world('Pins');
    await db().sql(
      `insert into "Message" (id, "channelId", "serverId", "authorId", content, pinned) select (($4::bigint) + g), $1,
        $2, $3, 'old', true from generate_series(1, 240) g`,
      [w.textId, w.server.id, w.owner.id, nextSnowflake()],
    );
    const fresh: string[] = [];
    for (let i = 0; i < 30; i++) fresh.push(nextSnowflake());
    await db().sql(
      `insert into "Message" (id, "channelId", "serverId", "authorId", content) select unnest($4::bigint[]), $1, $2, $3,
        'new'`,
      [w.textId, w.server.id, w.owner.id, fresh],
    );
    tally.pins = await hammer(db(), (em, i) => h.messages(em).pin(w.owner, fresh[i % 30]));
    expect(await one(`select count(*)::int from "Message" where "channelId" = $1 and pinned`, [w.textId])).toBe(250);
  });

  it('a group DM stops at 10 recipients', async () => {
    const [owner] = await usersNamed('host', 1);
    const friends = await usersNamed('guest', 30);
    for (const f of friends) {
      await relationships().sendFriendRequest(owner, f);
      await relationships().acceptFriendRequest(f, owner);
    }
    const group = await h.dms().createGroupDM(owner, [friends[0]]);
    tally.groupDm = await hammer(db(), (em, i) => h.dms(em).addRecipient(owner, group.id, friends[i % 30]));
    expect(await one(`select count(*)::int from "ChannelRecipient" where "channelId" = $1`, [group.id])).toBe(10);
  });

  it('thread memberCount equals its members through joins, leaves and first sends', async () => {
    const w = await h.world('Threads');
    const members = await Promise.all(Array.from({ length: 40 }, () => h.joined(w, 'threader')));
    const thread = await h.threads().createThread(w.owner, w.textId, { name: 'busy' });
    tally.threadMembers = await hammer<unknown>(db(), (em, i) => {
      const m = members[i % 40];
      return i % 3 === 0
        ? h.threads(em).joinThread(m, thread.id)
        : i % 3 === 1
          ? h.threads(em).leaveThread(m, thread.id)
          : h.messages(em).send(m, thread.id, 'hi');
    });
    expect(await one(`select "memberCount" from "Channel" where id = $1`, [thread.id])).toBe(
      await one(`select count(*)::int from "ThreadMember" where "threadId" = $1`, [thread.id]),
    );
  });

  it('leaves every invariant intact', async () => {
    expect(await checkInvariants(db().fork())).toEqual([]);
    console.log(`race suite (${OPS} per invariant): ${JSON.stringify(tally)}`);
    expect(Object.keys(tally)).toHaveLength(13);
  });
});
