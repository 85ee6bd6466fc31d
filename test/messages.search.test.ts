import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { DomainError, NotAMember, ValidationFailed } from '../src/domain/errors';
import { PermissionFlags as F } from '../src/domain/permissions';
import { nextSnowflake, snowflakeAt } from '../src/domain/snowflake';
import { mentionsOf } from '../src/entities/message/MessageQueries';
import { parseSearchQuery, search, SEARCH_RANK_ALL_MAX, type SearchQuery } from '../src/entities/message/search';
import type { User } from '../src/entities/user/User';
import { useTestDatabase } from './support/db';
import { messagingHelpers, type MessagingWorld } from './support/messaging';

const db = useTestDatabase();
const h = messagingHelpers(db);

/** A message written straight to the table; `at` sets its time (the snowflake). */
async function put(
  channelId: string,
  serverId: string | null,
  authorId: string,
  content: string,
  at?: Date,
  extra: { pinned?: boolean } = {},
): Promise<string> {
  const id = at
    ? (BigInt(snowflakeAt(at)) + BigInt(Math.floor(Math.random() * 4_000_000))).toString()
    : nextSnowflake();
  await db().sql(
    `insert into "Message" (id, "channelId", "serverId", "authorId", content, pinned) values ($1, $2, $3, $4, $5, $6)`,
    [id, channelId, serverId, authorId, content, extra.pinned ?? false],
  );
  return id;
}

const find = (user: { id: string }, query: SearchQuery) => search(h.fork(), user, query);
const ids = (r: { messages: { id: string }[] }) => r.messages.map((m) => m.id);

describe('search: only what the searcher can read', () => {
  let w: MessagingWorld;
  let bob: User;
  let carol: User;
  const where: Record<string, string> = {};
  const viewable = new Set<string>();
  beforeAll(async () => {
    w = await h.world();
    [bob, carol] = [await h.joined(w, 'bob'), await h.joined(w, 'carol')];
    const hidden = await h.channel(w.server.id);
    await h.overwrite(hidden, w.server.id, 'ROLE', 0n, F.VIEW_CHANNEL);
    const noHistory = await h.channel(w.server.id);
    await h.overwrite(noHistory, bob.id, 'MEMBER', 0n, F.READ_MESSAGE_HISTORY);
    const joinedThread = await h.channel(w.server.id, { type: 'PRIVATE_THREAD', parentId: w.textId });
    const privateThread = await h.channel(w.server.id, { type: 'PRIVATE_THREAD', parentId: w.textId });
    const hiddenThread = await h.channel(w.server.id, { type: 'PUBLIC_THREAD', parentId: hidden });
    const publicThread = await h.channel(w.server.id, { type: 'PUBLIC_THREAD', parentId: w.textId });
    await db().sql(`insert into "ThreadMember" ("threadId", "userId") values ($1, $2)`, [joinedThread, bob.id]);
    const dm = async (a: User, b: User) => {
      const id = nextSnowflake();
      await db().sql(`insert into "Channel" (id, type) values ($1, 'DM')`, [id]);
      await db().sql(`insert into "ChannelRecipient" ("channelId", "userId") values ($1, $2), ($1, $3)`, [
        id,
        a.id,
        b.id,
      ]);
      return id;
    };
    const bobDm = await dm(bob, w.owner);
    const othersDm = await dm(carol, w.owner);
    const other = await h.world('Elsewhere');
    Object.assign(where, {
      text: w.textId,
      hidden,
      noHistory,
      joinedThread,
      privateThread,
      hiddenThread,
      publicThread,
      bobDm,
      othersDm,
      elsewhere: other.textId,
    });
    for (const [name, channelId] of Object.entries(where)) {
      const serverId = name.endsWith('Dm') ? null : name === 'elsewhere' ? other.server.id : w.server.id;
      await put(channelId, serverId, w.owner.id, `the zebra crossing in ${name}`);
    }
    for (const name of ['text', 'joinedThread', 'publicThread', 'bobDm']) viewable.add(where[name]);
  });

  it('finds the word in every channel bob can read and nowhere else', async () => {
    const r = await find(bob, { text: 'zebra' });
    expect(new Set(r.messages.map((m) => m.channelId))).toEqual(viewable);
    expect(r.messages.every((m) => m.content.includes('zebra') && m.author.id === w.owner.id)).toBe(true);
    // The owner reads every channel of the server (the other server and carol's DM excepted).
    const all = await find(w.owner, { text: 'zebra' });
    expect(all.messages.map((m) => m.channelId).sort()).toEqual(
      Object.entries(where)
        .filter(([n]) => n !== 'elsewhere')
        .map(([, id]) => id)
        .sort(),
    );
  });

  it('narrows by server and by channel; channels bob cannot read stay out even when asked for', async () => {
    expect(
      new Set((await find(bob, { text: 'zebra', serverId: w.server.id })).messages.map((m) => m.channelId)),
    ).toEqual(new Set([where.text, where.joinedThread, where.publicThread]));
    expect(
      (
        await find(bob, { text: 'zebra', channelIds: [where.hidden, where.privateThread, where.othersDm, where.text] })
      ).messages.map((m) => m.channelId),
    ).toEqual([where.text]);
    const [{ id: elsewhere }] = await db().sql<{ id: string }>(
      `select "serverId"::text as id from "Channel" where id = $1`,
      [where.elsewhere],
    );
    await h.refused(() => find(carol, { text: 'zebra', serverId: elsewhere }), NotAMember, { serverId: elsewhere });
  });

  it('survives fuzzed text: quotes, backslashes, operators, NUL, unicode, 10 kB; never leaves the readable channels', async () => {
    const tokens = [
      '"',
      "'",
      '\\',
      '&',
      '|',
      '!',
      ':',
      '*',
      '(',
      ')',
      '<->',
      '-',
      ' ',
      'or',
      'and',
      'not',
      'zebra',
      'crossing',
      '\u0000',
      '😀',
      'é',
      '中文',
      ';',
      '--',
      '$1',
      '?',
      '??',
      '%',
      '_',
      '\n',
      '\t',
      '\ud800',
    ];
    const text = fc.oneof(
      fc.string({ unit: fc.constantFrom(...tokens), maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 60 }),
      fc.string({ unit: fc.constantFrom(...tokens), minLength: 2500, maxLength: 3000 }),
    );
    await fc.assert(
      fc.asyncProperty(text, async (t) => {
        const r = await find(bob, { text: t });
        for (const m of r.messages) expect(viewable.has(m.channelId)).toBe(true);
      }),
      { numRuns: 120 },
    );
    for (const big of ['zebra '.repeat(1800), '"\\'.repeat(5200), '😀'.repeat(2600), 'a'.repeat(10_240)]) {
      const r = await find(bob, { text: big });
      for (const m of r.messages) expect(viewable.has(m.channelId)).toBe(true);
    }
    // Quoted phrases, or, exclusion: websearch syntax works as written.
    expect(
      (await find(bob, { text: '"zebra crossing" -joinedThread' })).messages.map((m) => m.channelId).sort(),
    ).toEqual([where.text, where.publicThread, where.bobDm].sort());
  });

  it('an empty or stopword-only query finds nothing, without an error', async () => {
    for (const text of ['', '   ', 'the and of', '\u0000', '!!!', '""', '-'])
      expect(await find(bob, { text })).toEqual({ messages: [], hasMore: false, nextOffset: null });
  });
});

describe('search: filters, ranking, paging', () => {
  let w: MessagingWorld;
  let bob: User;
  beforeAll(async () => {
    w = await h.world();
    bob = await h.joined(w, 'bob');
  });

  it('filters by author, mention, has, pinned and dates', async () => {
    const m = h.messages();
    const plain = await m.send(w.owner, w.textId, 'otter plain');
    const byBob = await m.send(bob, w.textId, 'otter from bob');
    const mention = await m.send(w.owner, w.textId, `otter for <@${bob.id}>`);
    const link = await m.send(w.owner, w.textId, 'otter at https://example.com/otter');
    const file = await m.send(w.owner, w.textId, 'otter file', {
      attachments: [
        { filename: 'o.png', size: 1, contentType: 'image/png', url: 'https://cdn.example/o.png', width: 1, height: 1 },
      ],
    });
    const embed = await m.send(w.owner, w.textId, 'otter embed', { embeds: [{ title: 'o', fields: [] }] });
    await m.pin(w.owner, plain.id);
    const old = await put(w.textId, w.server.id, w.owner.id, 'otter of old', new Date('2025-03-01T00:00:00Z'));
    const q = (extra: Partial<SearchQuery>) => find(bob, { text: 'otter', ...extra }).then((r) => ids(r).sort());

    expect(await q({ authorId: bob.id })).toEqual([byBob.id]);
    expect(await q({ mentions: bob.id })).toEqual([mention.id]);
    expect(await q({ has: ['link'] })).toEqual([link.id]);
    expect(await q({ has: ['attachment'] })).toEqual([file.id]);
    expect(await q({ has: ['embed'] })).toEqual([embed.id]);
    expect(await q({ has: ['embed', 'attachment'] })).toEqual([]);
    expect(await q({ pinned: true })).toEqual([plain.id]);
    expect(await q({ pinned: false })).not.toContain(plain.id);
    expect(await q({ before: new Date('2025-06-01T00:00:00Z') })).toEqual([old]);
    expect(await q({ after: new Date('2025-06-01T00:00:00Z') })).toEqual(
      [plain, byBob, mention, link, file, embed].map((x) => x.id).sort(),
    );
    expect(await q({ after: new Date('2025-06-01T00:00:00Z'), before: new Date('2025-01-01T00:00:00Z') })).toEqual([]);
    // Dates outside the snowflake range are clamped, not errors.
    expect(await q({ before: new Date('1990-01-01T00:00:00Z') })).toEqual([]);
    expect(await q({ after: new Date('1990-01-01T00:00:00Z') })).toHaveLength(7);
    expect(await q({ before: new Date('9999-01-01T00:00:00Z') })).toHaveLength(7);

    const views = (await find(bob, { text: 'otter', has: ['attachment'] })).messages;
    expect(views[0].attachments).toHaveLength(1);
    expect((await mentionsOf(h.fork(), bob)).map((x) => x.id)).toEqual([mention.id]);
  });

  it('mentionsOf: readable channels only, newest first, before cursor, limit 1-100', async () => {
    const hidden = await h.channel(w.server.id);
    await h.overwrite(hidden, bob.id, 'MEMBER', 0n, F.VIEW_CHANNEL);
    const channel = await h.channel(w.server.id);
    const mentioned: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = nextSnowflake();
      await db().sql(
        `insert into "Message" (id, "channelId", "serverId", "authorId", content, "mentionUserIds") values ($1, $2, $3,
          $4, 'hey', array[$5::bigint])`,
        [id, channel, w.server.id, w.owner.id, bob.id],
      );
      mentioned.push(id);
    }
    await db().sql(
      `insert into "Message" (id, "channelId", "serverId", "authorId", content, "mentionUserIds") values ($1, $2, $3,
        $4, 'hidden', array[$5::bigint])`,
      [nextSnowflake(), hidden, w.server.id, w.owner.id, bob.id],
    );
    const all = (await mentionsOf(h.fork(), bob, { limit: 100 })).map((x) => x.id);
    expect(all.slice(0, 3)).toEqual([...mentioned].reverse());
    expect(all).toHaveLength(4); // the three, and the one of the filters test above
    expect((await mentionsOf(h.fork(), bob, { before: mentioned[2], limit: 1 })).map((x) => x.id)).toEqual([
      mentioned[1],
    ]);
    expect((await mentionsOf(h.fork(), w.owner)).map((x) => x.id)).toEqual([]);
    for (const limit of [0, 101, 2.5])
      await h.refused(() => mentionsOf(h.fork(), bob, { limit }), ValidationFailed, { field: 'limit' });
    await h.refused(() => mentionsOf(h.fork(), bob, { before: 'x' }), ValidationFailed, { field: 'before' });
  });

  it('refuses malformed queries with ValidationFailed and writes nothing', async () => {
    const bad: [unknown, string][] = [
      [{ text: 'x', limit: 0 }, 'limit'],
      [{ text: 'x', limit: 26 }, 'limit'],
      [{ text: 'x', offset: -1 }, 'offset'],
      [{ text: 'x', offset: 5001 }, 'offset'],
      [{ text: 5 }, 'text'],
      [null, 'query'],
      [{ text: 'x', has: ['file'] }, 'has'],
      [{ text: 'x', pinned: 'yes' }, 'pinned'],
      [{ text: 'x', before: '2025-01-01' }, 'before'],
      [{ text: 'x', after: new Date('nope') }, 'after'],
      [{ text: 'x', authorId: "1' or '1'='1" }, 'authorId'],
      [{ text: 'x', channelIds: 'abc' }, 'channelIds'],
      [{ text: 'x', mentions: {} }, 'mentions'],
    ];
    for (const [query, field] of bad)
      await h.refused(() => find(bob, query as SearchQuery), ValidationFailed, { field });
    expect((await find(bob, { text: 'x', limit: 25, offset: 5000 })).messages).toEqual([]);
    expect((await find(bob, { text: 'x', limit: 1 })).messages).toEqual([]);
  });

  it('ranks by ts_rank_cd, newest first among equal ranks, and pages without gaps or repeats', async () => {
    const channel = await h.channel(w.server.id);
    const far = await put(channel, w.server.id, w.owner.id, 'quokka went to the river and much later met a wombat');
    const same = [];
    for (let i = 0; i < 27; i++)
      same.push(await put(channel, w.server.id, w.owner.id, `a quokka wombat story number ${i}`));
    // Adjacent words: the same cover density as `same`, so the tie goes to the newest.
    const near = await put(channel, w.server.id, w.owner.id, 'quokka wombat');
    const first = await find(bob, { text: 'quokka wombat', channelIds: [channel], limit: 10 });
    expect(first.messages[0].id).toBe(near);
    expect(first.messages[0].rank).toBeGreaterThan(
      (await find(bob, { text: 'quokka wombat', channelIds: [channel], offset: 28, limit: 1 })).messages[0].rank,
    );
    const ranks = first.messages.map((m) => m.rank);
    expect([...ranks].sort((a, b) => b - a)).toEqual(ranks);
    const all: string[] = [];
    let offset: number | null = 0;
    const pages: boolean[] = [];
    while (offset !== null) {
      const r = await find(bob, { text: 'quokka wombat', channelIds: [channel], limit: 10, offset });
      all.push(...ids(r));
      pages.push(r.hasMore);
      offset = r.nextOffset;
    }
    expect(pages).toEqual([true, true, false]);
    expect(all).toHaveLength(29);
    expect(new Set(all).size).toBe(29);
    expect(all.at(-1)).toBe(far);
    // The 27 equal ones come newest first.
    expect(all.slice(1, 28)).toEqual([...same].reverse());
  });

  it(`past ${SEARCH_RANK_ALL_MAX} matches, ranks within time buckets, newest first, and still pages through every match once`, async () => {
    const channel = await h.channel(w.server.id);
    const oldAt = new Date(Date.now() - 100 * 86_400_000);
    const old = (
      await db().sql<{ id: string }>(
        `insert into "Message" (id, "channelId", "serverId", "authorId", content)
       select $1::bigint + g * 4194304, $2, $3, $4, 'kiwi kiwi kiwi kiwi' from generate_series(1, $5::int) g
         returning id::text`,
        [snowflakeAt(oldAt), channel, w.server.id, w.owner.id, SEARCH_RANK_ALL_MAX + 20],
      )
    ).map((r) => r.id);
    const recent: string[] = [];
    for (let i = 0; i < 12; i++)
      recent.push(await put(channel, w.server.id, w.owner.id, `one kiwi among many other words ${i}`));
    const first = await find(bob, { text: 'kiwi', channelIds: [channel] });
    // The recent, lower ranked matches come first: their bucket is the newest.
    expect(ids(first).slice(0, 12).sort()).toEqual([...recent].sort());
    expect(first.messages[0].rank).toBeLessThan(first.messages[12].rank);
    const seen: string[] = [];
    let offset: number | null = 0;
    while (offset !== null) {
      const r = await find(bob, { text: 'kiwi', channelIds: [channel], offset });
      seen.push(...ids(r));
      offset = r.nextOffset;
    }
    expect(seen.sort()).toEqual([...old, ...recent].sort());
  });
});

describe('search: options are validated by own-property lookup', () => {
  let w: MessagingWorld;
  let bob: User;
  const OBJECT_NAMES = [
    'toString',
    'constructor',
    '__proto__',
    'hasOwnProperty',
    'valueOf',
    'isPrototypeOf',
    'propertyIsEnumerable',
    'toLocaleString',
    '__defineGetter__',
  ];
  const OPTIONS = [
    'text',
    'serverId',
    'channelIds',
    'authorId',
    'mentions',
    'has',
    'pinned',
    'before',
    'after',
    'limit',
    'offset',
  ];
  /** An object whose own properties are exactly `entries` (`__proto__` included, as JSON.parse makes it). */
  const own = (entries: [string, unknown][]) => {
    const query: Record<string, unknown> = {};
    for (const [key, value] of entries)
      Object.defineProperty(query, key, { value, enumerable: true, configurable: true, writable: true });
    return query;
  };
  beforeAll(async () => {
    w = await h.world();
    bob = await h.joined(w, 'bob');
    await h.messages().send(bob, w.textId, 'the walrus has a link https://example.com');
  });

  it('has: names every object answers to (toString, constructor, __proto__ ...) are refused with ValidationFailed, writing nothing', async () => {
    for (const name of OBJECT_NAMES)
      await h.refused(() => find(bob, { text: 'walrus', has: [name] as never }), ValidationFailed, { field: 'has' });
    await h.refused(() => find(bob, { text: 'walrus', has: ['link', 'toString'] as never }), ValidationFailed, {
      field: 'has',
    });
    expect((await find(bob, { text: 'walrus', has: ['link', 'link'] })).messages).toHaveLength(1);
  });

  it('inherited values are not options, and names that are not options are refused', async () => {
    await h.refused(() => find(bob, Object.create({ text: 'walrus' }) as SearchQuery), ValidationFailed, {
      field: 'text',
    });
    await h.refused(
      () => find(bob, JSON.parse('{"text": "walrus", "__proto__": {"has": ["toString"]}}') as SearchQuery),
      ValidationFailed,
      { field: '__proto__' },
    );
    await h.refused(() => find(bob, { text: 'walrus', constructor: 'x' } as never), ValidationFailed, {
      field: 'constructor',
    });
    await h.refused(() => find(bob, { text: 'walrus', channelId: w.textId } as never), ValidationFailed, {
      field: 'channelId',
    });
    await h.refused(
      () => find(bob, { text: 'walrus', before: Object.create(Date.prototype) as Date }),
      ValidationFailed,
      { field: 'before' },
    );
    // eslint-disable-next-line no-sparse-arrays
    await h.refused(() => find(bob, { text: 'walrus', channelIds: [, w.textId] as never }), ValidationFailed, {
      field: 'channelIds',
    });
    // A polluted Object.prototype does not reach the query.
    Object.defineProperty(Object.prototype, 'has', { value: ['toString'], configurable: true, writable: true });
    Object.defineProperty(Object.prototype, 'authorId', { value: w.owner.id, configurable: true, writable: true });
    try {
      expect((await find(bob, { text: 'walrus' })).messages).toHaveLength(1);
    } finally {
      delete (Object.prototype as Record<string, unknown>).has;
      delete (Object.prototype as Record<string, unknown>).authorId;
    }
  });

  it('property: any option object gives results or ValidationFailed, never a raw database error, and writes nothing', async () => {
    const name = fc.constantFrom(...OBJECT_NAMES, 'attachment', 'embed', 'link');
    const value = fc.oneof(
      fc.anything(),
      name,
      fc.array(name, { maxLength: 4 }),
      fc.date(),
      fc.integer({ min: -10, max: 6000 }),
      fc.constant(bob.id),
      fc.constant(w.server.id),
      fc.array(fc.oneof(fc.constant(w.textId), fc.string()), { maxLength: 3 }),
      fc.boolean(),
    );
    const key = fc.oneof(fc.constantFrom(...OPTIONS), fc.constantFrom(...OBJECT_NAMES));
    const entries = fc.array(
      fc.oneof(fc.tuple(key, value), fc.tuple(fc.constant('has'), fc.array(name, { maxLength: 3 }))),
      { maxLength: 5 },
    );
    const text = fc.option(fc.oneof(fc.constant('walrus'), fc.string()), { nil: undefined, freq: 10 });
    const query = fc
      .tuple(text, entries)
      .map(([text, rest]) => own([...(text === undefined ? [] : ([['text', text]] as [string, unknown][])), ...rest]));
    const outcome = async (q: Record<string, unknown>) =>
      find(bob, q as unknown as SearchQuery).then(
        () => 'ok',
        (e: unknown) => e,
      );
    // The pure parser, many times.
    fc.assert(
      fc.property(query, (q) => {
        try {
          parseSearchQuery(q);
        } catch (error) {
          expect(error).toBeInstanceOf(ValidationFailed);
        }
      }),
      { numRuns: 1000 },
    );
    // And through the database.
    const before = await h.counts();
    await fc.assert(
      fc.asyncProperty(query, async (q) => {
        const result = await outcome(q);
        if (result !== 'ok') expect(result).toBeInstanceOf(DomainError);
      }),
      { numRuns: 150 },
    );
    expect(await h.counts()).toEqual(before);
  }, 120_000);
});
