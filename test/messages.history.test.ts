import { beforeAll, describe, expect, it } from 'vitest';
import {
  MissingPermission,
  NotAMember,
  NotARecipient,
  NotATextChannel,
  NotFound,
  ValidationFailed,
} from '../src/domain/errors';
import { PermissionFlags as F } from '../src/domain/permissions';
import { nextSnowflake, snowflakeTimestamp } from '../src/domain/snowflake';
import { createOrm } from '../src/db/orm';
import { loadChannelAccess } from '../src/entities/channel/ChannelAccess';
import { history } from '../src/entities/message/MessageQueries';
import { loadReadAccess, readSql, READ_BITS, viewableChannelIds } from '../src/entities/message/read-access';
import { useTestDatabase } from './support/db';
import { messagingHelpers, type MessagingWorld } from './support/messaging';

const db = useTestDatabase();
const h = messagingHelpers(db);

/** `n` messages in a channel, written straight to the table (ids ascending, as sends would make them). */
async function bulk(channelId: string, serverId: string | null, authorId: string, n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, () => nextSnowflake());
  await db().sql(
    `insert into "Message" (id, "channelId", "serverId", "authorId", content)
     select x.id, $2, $3, $4, 'message ' || x.n from unnest($1::bigint[]) with ordinality as x(id, n)`,
    [ids, channelId, serverId, authorId],
  );
  return ids;
}

const idsOf = (page: { id: string }[]) => page.map((m) => m.id);
const desc = (ids: string[]) => [...ids].reverse();

describe('history paging', () => {
  let w: MessagingWorld;
  let ids: string[];
  beforeAll(async () => {
    w = await h.world();
    const other = await h.channel(w.server.id);
    // Another channel's messages interleave in id order and must never show up.
    ids = [];
    for (let i = 0; i < 13; i++) {
      ids.push(...(await bulk(w.textId, w.server.id, w.owner.id, 10)));
      await bulk(other, w.server.id, w.owner.id, 3);
    }
  });
  const page = (options?: Parameters<typeof history>[3]) => history(h.fork(), w.owner, w.textId, options);

  it('without a cursor: the newest 50, newest first', async () => {
    expect(idsOf(await page())).toEqual(desc(ids.slice(-50)));
    expect(idsOf(await page({ limit: 1 }))).toEqual([ids.at(-1)]);
  });

  it('before: the older messages next to the cursor, excluding it', async () => {
    expect(idsOf(await page({ before: ids[80], limit: 30 }))).toEqual(desc(ids.slice(50, 80)));
    expect(idsOf(await page({ before: ids[10] }))).toEqual(desc(ids.slice(0, 10)));
    expect(await page({ before: ids[0] })).toEqual([]);
  });

  it('after: the oldest messages newer than the cursor, still newest first', async () => {
    expect(idsOf(await page({ after: ids[20], limit: 30 }))).toEqual(desc(ids.slice(21, 51)));
    expect(idsOf(await page({ after: ids[120] }))).toEqual(desc(ids.slice(121)));
    expect(await page({ after: ids.at(-1) })).toEqual([]);
    expect(idsOf(await page({ after: '1', limit: 3 }))).toEqual(desc(ids.slice(0, 3)));
  });

  it('around: the message and older ones (half, rounded up) plus newer ones (the other half)', async () => {
    expect(idsOf(await page({ around: ids[60], limit: 10 }))).toEqual(desc(ids.slice(56, 66)));
    expect(idsOf(await page({ around: ids[60], limit: 7 }))).toEqual(desc(ids.slice(57, 64)));
    expect(idsOf(await page({ around: ids[0], limit: 10 }))).toEqual(desc(ids.slice(0, 6)));
    expect(idsOf(await page({ around: ids.at(-1), limit: 10 }))).toEqual([ids.at(-1), ...desc(ids.slice(-5, -1))]);
    expect(idsOf(await page({ around: ids[60], limit: 1 }))).toEqual([ids[60]]);
  });

  it('walks the whole channel with before pages of 100, without gaps or repeats', async () => {
    const seen: string[] = [];
    let before: string | undefined;
    for (;;) {
      const p = await page({ limit: 100, ...(before ? { before } : {}) });
      if (p.length === 0) break;
      seen.push(...idsOf(p));
      before = p.at(-1)!.id;
    }
    expect(seen).toEqual(desc(ids));
  });

  it('limit 100 is accepted; 0, 101, fractions and strings are refused; so are two cursors and malformed ids', async () => {
    expect(await page({ limit: 100 })).toHaveLength(100);
    for (const limit of [0, 101, 1.5, -1, '5', Number.NaN]) {
      await h.refused(() => page({ limit: limit as number }), ValidationFailed, { field: 'limit' });
    }
    await h.refused(() => page({ before: ids[5], after: ids[1] }), ValidationFailed, { field: 'options' });
    await h.refused(() => page({ before: 'abc' }), ValidationFailed, { field: 'before' });
    await h.refused(() => page({ around: "1' or 1=1" }), ValidationFailed, { field: 'around' });
    await h.refused(() => page('x' as never), ValidationFailed, { field: 'options' });
  });
});

describe('history permissions', () => {
  it('needs VIEW_CHANNEL and READ_MESSAGE_HISTORY; refuses strangers, non-recipients and categories with typed errors', async () => {
    const w = await h.world();
    const bob = await h.joined(w, 'bob');
    await h.messages().send(w.owner, w.textId, 'hello');
    expect(await history(h.fork(), bob, w.textId)).toHaveLength(1);

    await h.overwrite(w.textId, bob.id, 'MEMBER', 0n, F.READ_MESSAGE_HISTORY);
    await h.refused(() => history(h.fork(), bob, w.textId), MissingPermission, {
      permissions: ['READ_MESSAGE_HISTORY'],
      details: { channelId: w.textId },
    });
    await h.overwrite(w.textId, bob.id, 'MEMBER', 0n, F.VIEW_CHANNEL);
    await h.refused(() => history(h.fork(), bob, w.textId), MissingPermission, {
      permissions: ['VIEW_CHANNEL', 'READ_MESSAGE_HISTORY'],
    });
    // The owner is not bound by overwrites.
    expect(await history(h.fork(), w.owner, w.textId)).toHaveLength(1);

    const stranger = await h.register('stranger');
    await h.refused(() => history(h.fork(), stranger, w.textId), NotAMember, { serverId: w.server.id });
    await h.refused(() => history(h.fork(), bob, nextSnowflake()), NotFound);
    const category = await h.channel(w.server.id, { type: 'GUILD_CATEGORY' });
    await h.refused(() => history(h.fork(), w.owner, category), NotATextChannel);

    // Threads: a private thread admits its members only; a public one follows its parent.
    const privateThread = await h.channel(w.server.id, { type: 'PRIVATE_THREAD', parentId: w.textId });
    await bulk(privateThread, w.server.id, w.owner.id, 2);
    const carol = await h.joined(w, 'carol');
    await h.refused(() => history(h.fork(), carol, privateThread), MissingPermission, {
      permissions: ['VIEW_CHANNEL', 'READ_MESSAGE_HISTORY'],
    });
    await db().sql(`insert into "ThreadMember" ("threadId", "userId") values ($1, $2)`, [privateThread, carol.id]);
    expect(await history(h.fork(), carol, privateThread)).toHaveLength(2);

    const dm = nextSnowflake();
    await db().sql(`insert into "Channel" (id, type) values ($1, 'DM')`, [dm]);
    await db().sql(`insert into "ChannelRecipient" ("channelId", "userId") values ($1, $2), ($1, $3)`, [
      dm,
      w.owner.id,
      bob.id,
    ]);
    await bulk(dm, null, bob.id, 3);
    expect(await history(h.fork(), w.owner, dm)).toHaveLength(3);
    await h.refused(() => history(h.fork(), stranger, dm), NotARecipient, { channelId: dm });
  });
});

describe('history views', () => {
  it('carries authors, reactions with counts and `me`, attachments, embeds, replies, edits and thread summaries', async () => {
    const w = await h.world();
    const bob = await h.joined(w, 'bob');
    const carol = await h.joined(w, 'carol');
    const first = await h.messages().send(bob, w.textId, 'first', {
      attachments: [
        {
          filename: 'a.png',
          size: 10,
          contentType: 'image/png',
          url: 'https://cdn.example/a.png',
          width: 2,
          height: 3,
        },
      ],
      embeds: [{ title: 'T', fields: [{ name: 'n', value: 'v', inline: false }] }],
    });
    await h.messages().send(carol, w.textId, 'a reply', { replyTo: first.id });
    await h.messages().edit(bob, first.id, 'first, edited');
    for (const user of [w.owner, bob, carol]) await h.reactions().react(user, first.id, '👍');
    await h.reactions().react(carol, first.id, '🔥');
    await db().sql(
      `insert into "Channel" (id, "serverId", type, name, "parentId", "autoArchiveDuration", "messageCount") values ($1,
        $2, 'PUBLIC_THREAD', 'talk', $3, 60, 4)`,
      [first.id, w.server.id, w.textId],
    );

    const [r, f] = await history(h.fork(), bob, w.textId);
    expect(f.id).toBe(first.id);
    expect(f.author).toEqual({
      id: bob.id,
      username: bob.username,
      discriminator: bob.discriminator,
      displayName: null,
      avatar: null,
    });
    expect(f.createdAt).toEqual(snowflakeTimestamp(first.id));
    expect(f.reactions).toEqual([
      { emoji: { id: null, name: '👍', animated: false }, count: 3, me: true },
      { emoji: { id: null, name: '🔥', animated: false }, count: 1, me: false },
    ]);
    expect(f.attachments).toEqual([
      expect.objectContaining({
        filename: 'a.png',
        size: 10,
        contentType: 'image/png',
        url: 'https://cdn.example/a.png',
        width: 2,
        height: 3,
      }),
    ]);
    expect(f.embeds).toEqual([{ title: 'T', fields: [{ name: 'n', value: 'v', inline: false }] }]);
    expect(f.thread).toMatchObject({
      id: first.id,
      name: 'talk',
      type: 'PUBLIC_THREAD',
      messageCount: 4,
      archived: false,
    });
    expect(f.mentions).toEqual([]);
    expect(f.content).toBe('first, edited');
    expect(f.editedAt).toBeInstanceOf(Date);
    expect(r).toMatchObject({
      content: 'a reply',
      editedAt: null,
      replyToId: first.id,
      mentions: [bob.id],
      type: 'REPLY',
      thread: null,
      reactions: [],
      attachments: [],
      embeds: [],
    });
    expect(r.author.id).toBe(carol.id);
    // `me` is the viewer's.
    const asOwner = await history(h.fork(), w.owner, w.textId);
    expect(asOwner[1].reactions.map((x) => x.me)).toEqual([true, false]);
  });

  it('runs a fixed number of queries whatever the page size (no N+1)', async () => {
    const w = await h.world();
    const users = [w.owner, await h.joined(w, 'u'), await h.joined(w, 'v')];
    for (let i = 0; i < 60; i++) {
      await h.messages().send(users[i % 3], w.textId, `m${i}`, {
        attachments: [
          {
            filename: 'f.txt',
            size: 1,
            contentType: 'text/plain',
            url: 'https://cdn.example/f',
            width: null,
            height: null,
          },
        ],
        embeds: [{ title: `e${i}`, fields: [] }],
      });
    }
    const ids = (
      await db().sql<{ id: string }>(`select id::text from "Message" where "channelId" = $1 order by id`, [w.textId])
    ).map((r) => r.id);
    await db().sql(
      `insert into "Reaction" ("messageId", "emojiKey", "userId", "emojiName") select unnest($1::bigint[]), 'u:👍', $2,
        '👍'`,
      [ids, users[1].id],
    );

    const queries: string[] = [];
    const orm = await createOrm({
      clientUrl: db().url,
      poolSize: 2,
      debug: true,
      logger: (line) => queries.push(line),
    });
    try {
      const count = async (limit: number) => {
        queries.length = 0;
        const p = await history(orm.em.fork(), users[0], w.textId, { limit });
        expect(p).toHaveLength(limit);
        expect(p.every((m) => m.attachments.length === 1 && m.embeds.length === 1 && m.reactions[0].count === 1)).toBe(
          true,
        );
        return queries.filter((q) => q.includes('[query]')).length;
      };
      const small = await count(2);
      const large = await count(50);
      // Access, page, reactions, attachments, embeds.
      expect(small).toBe(5);
      expect(large).toBe(small);
    } finally {
      await orm.close(true);
    }
  });
});

describe('read access agrees with loadChannelAccess', () => {
  it('for owners, members, roles, overwrites, timeouts, administrators, threads and DMs', async () => {
    const w = await h.world();
    const [bob, carol, dave, erin] = [
      await h.joined(w, 'bob'),
      await h.joined(w, 'carol'),
      await h.joined(w, 'dave'),
      await h.joined(w, 'erin'),
    ];
    const mods = await h.role(w.server.id, F.MANAGE_THREADS, 2, [carol.id]);
    await h.role(w.server.id, F.ADMINISTRATOR, 3, [erin.id]);
    const hidden = await h.channel(w.server.id);
    await h.overwrite(hidden, w.server.id, 'ROLE', 0n, F.VIEW_CHANNEL);
    await h.overwrite(hidden, mods, 'ROLE', F.VIEW_CHANNEL, 0n);
    const noHistory = await h.channel(w.server.id);
    await h.overwrite(noHistory, w.server.id, 'ROLE', 0n, F.READ_MESSAGE_HISTORY);
    await h.overwrite(noHistory, dave.id, 'MEMBER', F.READ_MESSAGE_HISTORY, 0n);
    const voice = await h.channel(w.server.id, { type: 'GUILD_VOICE' });
    const publicThread = await h.channel(w.server.id, { type: 'PUBLIC_THREAD', parentId: hidden });
    const privateThread = await h.channel(w.server.id, { type: 'PRIVATE_THREAD', parentId: w.textId });
    const privateThread2 = await h.channel(w.server.id, { type: 'PRIVATE_THREAD', parentId: w.textId });
    await db().sql(`insert into "ThreadMember" ("threadId", "userId") values ($1, $2)`, [privateThread, bob.id]);
    await db().sql(`update "ServerMember" set "timedOutUntil" = now() + interval '1 hour' where "userId" = $1`, [
      dave.id,
    ]);
    const channels = [w.textId, hidden, noHistory, voice, publicThread, privateThread, privateThread2];
    const run = readSql(h.fork());
    for (const user of [w.owner, bob, carol, dave, erin]) {
      const readable: string[] = [];
      for (const channel of channels) {
        const expected = await loadChannelAccess(h.fork(), channel, user.id);
        const actual = await loadReadAccess(run, channel, user.id);
        expect({ user: user.username, channel, bits: actual.permissions.toString() }).toEqual({
          user: user.username,
          channel,
          bits: expected.permissions.toString(),
        });
        if ((expected.permissions & READ_BITS) === READ_BITS) readable.push(channel);
      }
      const viewable = await viewableChannelIds(run, user.id);
      expect(viewable.filter((id) => channels.includes(id)).sort()).toEqual(readable.sort());
    }
    // Spot checks, so the agreement above is not agreement on nothing.
    const viewableBy = async (u: { id: string }) => viewableChannelIds(run, u.id);
    expect(await viewableBy(bob)).toEqual(expect.arrayContaining([w.textId, privateThread]));
    expect(await viewableBy(bob)).not.toContain(privateThread2);
    expect(await viewableBy(bob)).not.toContain(hidden);
    expect(await viewableBy(bob)).not.toContain(noHistory);
    expect(await viewableBy(carol)).toEqual(expect.arrayContaining([hidden, publicThread, privateThread2]));
    expect(await viewableBy(dave)).toContain(noHistory);
  });
});
