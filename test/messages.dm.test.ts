import { Client } from 'pg';
import { describe, expect, it } from 'vitest';
import {
  LimitReached,
  MissingPermission,
  NotARecipient,
  NotChannelOwner,
  NotFound,
  NotFriends,
  UserBlocked,
  ValidationFailed,
} from '../src/domain/errors';
import { nextSnowflake } from '../src/domain/snowflake';
import { ChannelType } from '../src/entities/channel/Channel';
import { RelationshipService } from '../src/identity/relationship-service';
import { User } from '../src/entities/user/User';
import { fulfilled, race, rejected, useTestDatabase } from './support/db';
import { messagingHelpers } from './support/messaging';

const db = useTestDatabase({ poolSize: 30 });
const { register, messages, dms, refused, counts, lastMessageId, fork, world, memberships } = messagingHelpers(db);
const relationships = () => new RelationshipService(fork());

async function befriend(a: User, b: User): Promise<void> {
  await relationships().sendFriendRequest(a, b);
  await relationships().acceptFriendRequest(b, a);
}

/**
 * Setup for the DM privacy rule (issue 16 rule 4): the users become members of one new server,
 * which allows DMs by default.
 */
async function shareAServer(...users: User[]): Promise<void> {
  const shared = await world('Shared');
  for (const user of users) await memberships().acceptInvite(user, shared.code);
}

/** An owner with `n` friends. */
async function ownerWithFriends(n: number): Promise<{ owner: User; friends: User[] }> {
  const owner = await register('owner');
  const friends: User[] = [];
  for (let i = 0; i < n; i++) {
    const friend = await register('friend');
    await befriend(owner, friend);
    friends.push(friend);
  }
  return { owner, friends };
}

const recipientsOf = async (channelId: string) =>
  (
    await db().sql<{ id: string }>(
      `select "userId"::text as id from "ChannelRecipient" where "channelId" = $1 order by "userId"`,
      [channelId],
    )
  ).map((r) => r.id);
const channelRow = async (channelId: string) =>
  (
    await db().sql<{
      type: string;
      serverId: string | null;
      ownerId: string | null;
      dmKey: string | null;
      name: string | null;
    }>(
      `select type, "serverId"::text as "serverId", "ownerId"::text as "ownerId", "dmKey", name from "Channel"
        where id = $1`,
      [channelId],
    )
  )[0];
const channelEvents = (channelId: string) =>
  db().sql<{ id: string; type: string; userIds: string[] | null; serverId: string | null }>(
    `select id::text as id, type, "userIds"::text[] as "userIds", "serverId"::text as "serverId" from "DomainEvent"
      where "channelId" = $1 order by id`,
    [channelId],
  );
const messageTypes = async (channelId: string) =>
  db().sql<{ id: string; type: string; authorId: string; mentionUserIds: string[]; content: string }>(
    `select id::text as id, type, "authorId"::text as "authorId", "mentionUserIds"::text[] as "mentionUserIds", content
      from "Message" where "channelId" = $1 order by id`,
    [channelId],
  );
const sorted = (ids: string[]) => [...ids].sort();

describe('openDM', () => {
  it('opens one DM per pair: type DM, no server, two recipients, CHANNEL_CREATE to both; reopening writes nothing', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    await shareAServer(alice, bob);
    const dm = await alice.openDM(bob);
    expect(dm.type).toBe(ChannelType.DM);
    const row = await channelRow(dm.id);
    expect(row).toMatchObject({ type: 'DM', serverId: null, ownerId: null });
    const [low, high] = BigInt(alice.id) < BigInt(bob.id) ? [alice.id, bob.id] : [bob.id, alice.id];
    expect(row.dmKey).toBe(`${low}:${high}`);
    expect(await recipientsOf(dm.id)).toEqual(sorted([alice.id, bob.id]));
    const events = await channelEvents(dm.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'CHANNEL_CREATE', serverId: null });
    expect(sorted(events[0].userIds!)).toEqual(sorted([alice.id, bob.id]));

    const before = await counts();
    expect((await dms().openDM(bob, alice)).id).toBe(dm.id);
    expect((await dms().openDM(alice.id, bob.id)).id).toBe(dm.id);
    expect(await counts()).toEqual(before);
  });

  it('refuses a DM with oneself, an unknown user and malformed ids, writing nothing', async () => {
    const alice = await register('alice');
    await refused(() => dms().openDM(alice, alice), ValidationFailed, { field: 'recipient' });
    await refused(() => dms().openDM(alice, nextSnowflake()), NotFound, { entity: 'User' });
    await refused(() => dms().openDM(alice, 'nope'), ValidationFailed, { field: 'recipient' });
  });

  it('refuses opening while either side blocks the other, for a new or an existing DM', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    await shareAServer(alice, bob);
    await relationships().block(alice, bob);
    await refused(() => dms().openDM(alice, bob), UserBlocked);
    await refused(() => dms().openDM(bob, alice), UserBlocked);

    const carol = await register('carol');
    const dave = await register('dave');
    await shareAServer(carol, dave);
    const dm = await dms().openDM(carol, dave);
    await relationships().block(dave, carol);
    await refused(() => dms().openDM(carol, dave), UserBlocked);
    await refused(() => dms().openDM(dave, carol), UserBlocked);
    await relationships().unblock(dave, carol);
    expect((await dms().openDM(carol, dave)).id).toBe(dm.id);
  });

  it('100 concurrent opens of one pair, from both sides, give one channel', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    await shareAServer(alice, bob);
    const results = await race(db(), 100, (em, i) =>
      dms(em).openDM(i % 2 ? alice.id : bob.id, i % 2 ? bob.id : alice.id),
    );
    expect(rejected(results)).toEqual([]);
    const ids = new Set(fulfilled(results).map((c) => c.id));
    expect(ids.size).toBe(1);
    const [id] = [...ids];
    const [{ n }] = await db().sql<{ n: number }>(
      `select count(*)::int as n from "Channel" where type = 'DM' and "dmKey" = $1`,
      [(await channelRow(id)).dmKey],
    );
    expect(n).toBe(1);
    expect(await recipientsOf(id)).toEqual(sorted([alice.id, bob.id]));
    expect((await channelEvents(id)).filter((e) => e.type === 'CHANNEL_CREATE')).toHaveLength(1);
  });
});

describe('messages in DMs', () => {
  it('sends through MessageService; DM permissions allow pinning but not deleting the other side’s messages', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    await shareAServer(alice, bob);
    const dm = await dms().openDM(alice, bob);
    const hello = await messages().send(alice, dm.id, 'hello bob');
    const reply = await messages().send(bob, dm.id, 'hi alice');
    expect(await lastMessageId(dm.id)).toBe(reply.id);

    await refused(() => messages().deleteMessage(bob, hello.id), MissingPermission, { permission: 'MANAGE_MESSAGES' });
    await refused(() => messages().bulkDelete(alice, dm.id, [hello.id, reply.id]), MissingPermission, {
      permission: 'MANAGE_MESSAGES',
    });
    expect((await messages().pin(bob, hello.id)).pinned).toBe(true);
    await messages().deleteMessage(alice, hello.id);
    const outsider = await register('eve');
    await refused(() => messages().send(outsider, dm.id, 'let me in'), NotARecipient);
  });

  it('blocks in either direction refuse sending, and unblocking lets messages through again', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    await shareAServer(alice, bob);
    const dm = await dms().openDM(alice, bob);
    await relationships().block(alice, bob);
    await refused(() => messages().send(alice, dm.id, 'hi'), UserBlocked);
    await refused(() => messages().send(bob, dm.id, 'hi'), UserBlocked);
    await relationships().unblock(alice, bob);
    await relationships().block(bob, alice);
    await refused(() => messages().send(alice, dm.id, 'hi'), UserBlocked);
    await refused(() => messages().send(bob, dm.id, 'hi'), UserBlocked);
    await relationships().unblock(bob, alice);
    await messages().send(alice, dm.id, 'friends again');
  });

  it('a block racing many sends: every message that got through committed before the block', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    await shareAServer(alice, bob);
    const dm = await dms().openDM(alice, bob);
    const [{ mark }] = await db().sql<{ mark: string }>(`select coalesce(max(id), 0)::text as mark from "DomainEvent"`);
    const results = await race<unknown>(db(), 41, (em, i) =>
      i === 20
        ? new RelationshipService(em).block(bob, alice)
        : messages(em).send(i % 2 ? alice.id : bob.id, dm.id, `message ${i}`),
    );
    const failures = rejected(results);
    for (const failure of failures) expect(failure).toBeInstanceOf(UserBlocked);
    expect(results[20].status).toBe('fulfilled');
    const events = await db().sql<{ id: string; type: string }>(
      `select id::text as id, type from "DomainEvent" where id > $1 order by id`,
      [mark],
    );
    const blockIds = events.filter((e) => e.type.startsWith('RELATIONSHIP_')).map((e) => BigInt(e.id));
    const messageIds = events.filter((e) => e.type === 'MESSAGE_CREATE').map((e) => BigInt(e.id));
    expect(blockIds.length).toBeGreaterThan(0);
    const blockedAt = blockIds.reduce((min, id) => (id < min ? id : min));
    // Outbox ids follow transaction ids: a send that checked before the block but wrote after it would show here.
    expect(messageIds.filter((id) => id > blockedAt)).toEqual([]);
    const [{ n }] = await db().sql<{ n: number }>(`select count(*)::int as n from "Message" where "channelId" = $1`, [
      dm.id,
    ]);
    expect(n).toBe(40 - failures.length);
    expect(messageIds).toHaveLength(n);
    await refused(() => messages().send(alice, dm.id, 'after the block'), UserBlocked);
  });

  it('a block cannot commit while a send that passed the block check is still in flight', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    await shareAServer(alice, bob);
    const dm = await dms().openDM(alice, bob);
    const holder = new Client({ connectionString: db().url });
    await holder.connect();
    const waitFor = async (sql: string, params: unknown[]) => {
      for (let i = 0; i < 500; i++) {
        const { rows } = await holder.query<{ n: number }>(sql, params);
        if (rows[0].n > 0) return true;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return false;
    };
    try {
      // Hold the channel row: the send stops at its lastMessageId update, after it checked for blocks.
      await holder.query('begin');
      await holder.query('select 1 from "Channel" where id = $1 for update', [dm.id]);
      const [{ pid }] = (await holder.query<{ pid: number }>('select pg_backend_pid() as pid')).rows;
      const send = messages().send(alice, dm.id, 'in flight');
      expect(
        await waitFor('select count(*)::int as n from pg_stat_activity where $1 = any(pg_blocking_pids(pid))', [pid]),
      ).toBe(true);

      const block = relationships().block(bob, alice);
      const outcome = await Promise.race([
        block.then(() => 'block committed' as const),
        waitFor(
          `select count(*)::int as n from pg_stat_activity where datname = current_database()
            and wait_event_type = 'Lock' and wait_event = 'advisory'`,
          [],
        ).then((w) => (w ? ('block waits' as const) : ('timeout' as const))),
      ]);
      expect(outcome).toBe('block waits');
      await holder.query('commit');
      const sent = await send;
      await block;
      const [message] = await db().sql<{ id: string }>(
        `select id::text as id from "DomainEvent" where type = 'MESSAGE_CREATE' and "channelId" = $1`,
        [dm.id],
      );
      const [blocked] = await db().sql<{ id: string }>(
        `select max(id)::text as id from "DomainEvent" where type like 'RELATIONSHIP_%'`,
      );
      expect(BigInt(message.id)).toBeLessThan(BigInt(blocked.id));
      expect(await lastMessageId(dm.id)).toBe(sent.id);
      await refused(() => messages().send(alice, dm.id, 'after'), UserBlocked);
    } finally {
      await holder.query('rollback').catch(() => undefined);
      await holder.end();
    }
  });
});

describe('group DMs', () => {
  it('creates a group owned by its creator with 2-10 recipients; 11 is refused', async () => {
    const { owner, friends } = await ownerWithFriends(10);
    const group = await owner.createGroupDM(
      friends.slice(0, 9).map((f) => f.id),
      { name: 'The crew' },
    );
    expect(await channelRow(group.id)).toMatchObject({
      type: 'GROUP_DM',
      serverId: null,
      ownerId: owner.id,
      dmKey: null,
      name: 'The crew',
    });
    expect(await recipientsOf(group.id)).toEqual(sorted([owner.id, ...friends.slice(0, 9).map((f) => f.id)]));
    const [created] = await channelEvents(group.id);
    expect(created).toMatchObject({ type: 'CHANNEL_CREATE', serverId: null });
    expect(sorted(created.userIds!)).toEqual(sorted([owner.id, ...friends.slice(0, 9).map((f) => f.id)]));

    await refused(() => dms().createGroupDM(owner, friends), LimitReached, { limit: 'groupDmRecipients', max: 10 });
    const pair = await dms().createGroupDM(owner, [friends[0], friends[0].id, owner.id]);
    expect(await recipientsOf(pair.id)).toEqual(sorted([owner.id, friends[0].id]));
    await refused(() => dms().createGroupDM(owner, [owner]), ValidationFailed, { field: 'recipientIds' });
    await refused(() => dms().createGroupDM(owner, []), ValidationFailed, { field: 'recipientIds' });
    await refused(() => dms().createGroupDM(owner, 'everyone' as never), ValidationFailed, { field: 'recipientIds' });
    await refused(() => dms().createGroupDM(owner, [friends[0], 'nope']), ValidationFailed, {
      field: 'recipientIds[1]',
    });
    await refused(() => dms().createGroupDM(owner, [friends[0]], { name: 'x'.repeat(101) }), ValidationFailed, {
      field: 'name',
    });
  });

  it('adds only friends, refuses blocked users and unknown users, writing nothing', async () => {
    const { owner, friends } = await ownerWithFriends(2);
    const stranger = await register('stranger');
    await refused(() => dms().createGroupDM(owner, [friends[0], stranger]), NotFriends);
    await refused(() => dms().createGroupDM(owner, [friends[0], nextSnowflake()]), NotFound, { entity: 'User' });
    await relationships().block(friends[1], owner);
    await refused(() => dms().createGroupDM(owner, [friends[0], friends[1]]), UserBlocked);
    const group = await dms().createGroupDM(owner, [friends[0]]);
    await refused(() => dms().addRecipient(owner, group.id, friends[1]), UserBlocked);
    await refused(() => dms().addRecipient(owner, group.id, stranger), NotFriends);
  });

  it('any recipient adds their friends up to 10, posting RECIPIENT_ADD; the 11th is refused', async () => {
    const { owner, friends } = await ownerWithFriends(9);
    const group = await dms().createGroupDM(owner, friends.slice(0, 8));
    const member = friends[0];
    const newcomer = await register('newcomer');
    await befriend(member, newcomer);
    await dms().addRecipient(member, group.id, newcomer);
    expect(await recipientsOf(group.id)).toHaveLength(10);
    const [notice] = await messageTypes(group.id);
    expect(notice).toMatchObject({ type: 'RECIPIENT_ADD', authorId: member.id, mentionUserIds: [newcomer.id] });
    expect(await lastMessageId(group.id)).toBe(notice.id);
    const created = (await channelEvents(group.id)).filter((e) => e.type === 'CHANNEL_CREATE').at(-1)!;
    expect(created.userIds).toEqual([newcomer.id]);
    const added = (await channelEvents(group.id)).find((e) => e.type === 'MESSAGE_CREATE')!;
    expect(sorted(added.userIds!)).toEqual(sorted([owner.id, ...friends.slice(0, 8).map((f) => f.id), newcomer.id]));

    await refused(() => dms().addRecipient(owner, group.id, friends[8]), LimitReached, {
      limit: 'groupDmRecipients',
      max: 10,
    });
    const before = await counts();
    await dms().addRecipient(owner, group.id, newcomer); // already in: nothing to do
    expect(await counts()).toEqual(before);
    const outsider = await register('outsider');
    await refused(() => dms().addRecipient(outsider, group.id, owner), NotARecipient);
    const dm = await dms().openDM(owner, friends[8]);
    await refused(() => dms().addRecipient(owner, dm.id, friends[1]), ValidationFailed, { field: 'channel' });
    await refused(() => dms().addRecipient(owner, nextSnowflake(), friends[1]), NotFound, { entity: 'Channel' });
  });

  it('20 concurrent adds into a group of 5 end at exactly 10 recipients', async () => {
    const { owner, friends } = await ownerWithFriends(24);
    const group = await dms().createGroupDM(owner, friends.slice(0, 4));
    const results = await race(db(), 20, (em, i) => dms(em).addRecipient(owner.id, group.id, friends[4 + i].id));
    expect(fulfilled(results)).toHaveLength(5);
    const failures = rejected(results);
    expect(failures).toHaveLength(15);
    for (const failure of failures) expect(failure).toBeInstanceOf(LimitReached);
    expect(await recipientsOf(group.id)).toHaveLength(10);
    expect((await messageTypes(group.id)).filter((m) => m.type === 'RECIPIENT_ADD')).toHaveLength(5);
  });

  it('only the owner removes others; removal posts RECIPIENT_REMOVE and tells the removed user', async () => {
    const { owner, friends } = await ownerWithFriends(3);
    const [a, b, c] = friends as [User, User, User];
    const group = await dms().createGroupDM(owner, [a, b]);
    await refused(() => dms().removeRecipient(a, group.id, b), NotChannelOwner);
    await refused(() => dms().removeRecipient(owner, group.id, c), NotFound, { entity: 'ChannelRecipient' });
    await refused(() => dms().removeRecipient(c, group.id, a), NotARecipient);
    await dms().removeRecipient(owner, group.id, b);
    expect(await recipientsOf(group.id)).toEqual(sorted([owner.id, a.id]));
    expect((await messageTypes(group.id)).at(-1)).toMatchObject({
      type: 'RECIPIENT_REMOVE',
      authorId: owner.id,
      mentionUserIds: [b.id],
    });
    const events = await channelEvents(group.id);
    expect(events.at(-1)).toMatchObject({ type: 'CHANNEL_DELETE', userIds: [b.id] });
    expect(sorted(events.at(-2)!.userIds!)).toEqual(sorted([owner.id, a.id]));
    const removal = events.find((e) => e.type === 'MESSAGE_CREATE')!;
    expect(sorted(removal.userIds!)).toEqual(sorted([owner.id, a.id, b.id]));
    await refused(() => messages().send(b, group.id, 'still here?'), NotARecipient);
  });

  it('the owner leaving hands ownership to the longest-standing recipient; the last leave deletes the channel', async () => {
    const { owner, friends } = await ownerWithFriends(2);
    const [older, newer] = friends as [User, User]; // older registered first: the smaller id
    const group = await dms().createGroupDM(owner, [older, newer]);
    await messages().send(older, group.id, 'hello');
    // The newer-id user has been there longer: addedAt decides before the id does.
    await db().sql(
      `update "ChannelRecipient" set "addedAt" = now() - interval '1 hour' where "channelId" = $1 and "userId" = $2`,
      [group.id, newer.id],
    );
    await dms().leaveGroupDM(owner, group.id);
    expect((await channelRow(group.id)).ownerId).toBe(newer.id);
    const notice = (await messageTypes(group.id)).at(-1)!;
    expect(notice).toMatchObject({ type: 'RECIPIENT_REMOVE', authorId: owner.id, mentionUserIds: [owner.id] });
    expect(await lastMessageId(group.id)).toBe(notice.id);

    await dms().removeRecipient(newer, group.id, newer); // removing oneself is leaving
    expect((await channelRow(group.id)).ownerId).toBe(older.id);
    await refused(() => dms().leaveGroupDM(newer, group.id), NotARecipient);
    await dms().leaveGroupDM(older, group.id);
    expect(await channelRow(group.id)).toBeUndefined();
    const [{ n }] = await db().sql<{ n: number }>(`select count(*)::int as n from "Message" where "channelId" = $1`, [
      group.id,
    ]);
    expect(n).toBe(0);
    expect((await channelEvents(group.id)).at(-1)).toMatchObject({ type: 'CHANNEL_DELETE', userIds: [older.id] });
  });

  it('everyone leaving at once deletes the channel exactly once', async () => {
    const { owner, friends } = await ownerWithFriends(5);
    const group = await dms().createGroupDM(owner, friends);
    const all = [owner, ...friends];
    const results = await race(db(), all.length, (em, i) => dms(em).leaveGroupDM(all[i].id, group.id));
    expect(rejected(results)).toEqual([]);
    expect(await channelRow(group.id)).toBeUndefined();
    expect(
      (await channelEvents(group.id)).filter((e) => e.type === 'CHANNEL_DELETE' && e.userIds?.length === 1),
    ).toHaveLength(6);
  });

  it('a 1:1 DM cannot be left or have recipients removed', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    await shareAServer(alice, bob);
    const dm = await dms().openDM(alice, bob);
    await refused(() => dms().leaveGroupDM(alice, dm.id), ValidationFailed, { field: 'channel' });
    await refused(() => dms().removeRecipient(alice, dm.id, bob), ValidationFailed, { field: 'channel' });
  });

  it('any recipient renames the group (CHANNEL_NAME_CHANGE); outsiders cannot', async () => {
    const { owner, friends } = await ownerWithFriends(1);
    const group = await dms().createGroupDM(owner, friends);
    await dms().renameGroupDM(friends[0], group.id, 'Weekend plans');
    expect((await channelRow(group.id)).name).toBe('Weekend plans');
    expect((await messageTypes(group.id)).at(-1)).toMatchObject({
      type: 'CHANNEL_NAME_CHANGE',
      content: 'Weekend plans',
      authorId: friends[0].id,
    });
    expect((await channelEvents(group.id)).at(-1)).toMatchObject({ type: 'CHANNEL_UPDATE' });
    const outsider = await register('outsider');
    await refused(() => dms().renameGroupDM(outsider, group.id, 'mine'), NotARecipient);
    await refused(() => dms().renameGroupDM(owner, group.id, 'y'.repeat(101)), ValidationFailed, { field: 'name' });
    await dms().renameGroupDM(owner, group.id, null);
    expect((await channelRow(group.id)).name).toBeNull();
  });

  it('messages in a group DM: anyone sends and pins, nobody deletes another’s message', async () => {
    const { owner, friends } = await ownerWithFriends(2);
    const group = await dms().createGroupDM(owner, friends);
    const first = await messages().send(friends[0], group.id, 'first');
    const second = await messages().send(owner, group.id, 'second');
    expect(await lastMessageId(group.id)).toBe(second.id);
    await refused(() => messages().deleteMessage(owner, first.id), MissingPermission, {
      permission: 'MANAGE_MESSAGES',
    });
    expect((await messages().pin(friends[1], first.id)).pinned).toBe(true);
  });
});

describe('dmChannelsOf', () => {
  it('lists DMs and group DMs with the other recipients, newest activity first, silent ones last', async () => {
    const { owner, friends } = await ownerWithFriends(3);
    const [a, b, c] = friends as [User, User, User];
    const quiet = await dms().openDM(owner, c);
    const withA = await dms().openDM(owner, a);
    const group = await dms().createGroupDM(owner, [a, b]);
    await messages().send(a, withA.id, 'older');
    await messages().send(b, group.id, 'newer');
    const list = await dms().dmChannelsOf(owner);
    expect(list.map((v) => v.channel.id)).toEqual([group.id, withA.id, quiet.id]);
    expect(sorted(list[0].recipients.map((u) => u.id))).toEqual(sorted([a.id, b.id]));
    expect(list[1].recipients.map((u) => u.id)).toEqual([a.id]);
    expect(list[1].recipients[0].username).toBe(a.username);
    expect(await dms().dmChannelsOf(await register('loner'))).toEqual([]);
  });
});
