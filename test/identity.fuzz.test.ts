import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EntityManager } from '@mikro-orm/postgresql';
import confusablePrototypes from 'unhomoglyph/data.json';
import { commit } from '../src/db/unit-of-work';
import {
  AlreadyFriends,
  DomainError,
  NotFound,
  SelfRelationship,
  UserBlocked,
  ValidationFailed,
} from '../src/domain/errors';
import { LIMITS } from '../src/domain/limits';
import { User } from '../src/entities/user/User';
import { useTestDatabase } from './support/db';
import { UserService } from '../src/identity/user-service';

const db = useTestDatabase();

type ErrorClass = abstract new (...args: never[]) => DomainError;

/** One generated bad input: what it is, the operation, and the errors it may give. */
interface Case {
  family: string;
  input: unknown;
  run: (em: EntityManager, me: User) => Promise<unknown>;
  allowed: ErrorClass[];
}

let alice: User;
let carol: User;
let dave: User;

beforeAll(async () => {
  const em = db().fork();
  const users = new UserService(em);
  alice = await users.register({ username: 'FuzzAlice' });
  await users.register({ username: 'FuzzBob' });
  carol = await users.register({ username: 'FuzzCarol' });
  dave = await users.register({ username: 'FuzzDave' });
  await carol.block(alice); // a request between them is refused whoever asks
  await alice.sendFriendRequest(dave);
  await dave.acceptFriendRequest(alice);
});

// ---- generators ---------------------------------------------------------------------------------

const validName = fc.stringMatching(/^[a-z][a-z0-9_]{2,20}$/).filter((s) => s !== 'here');
const insertAt = (text: string, insert: string, at: number) => {
  const i = 1 + (at % (text.length - 1)); // strictly inside, where trimming cannot remove it
  return text.slice(0, i) + insert + text.slice(i);
};
const codePoint = (ranges: [number, number][]) =>
  fc.oneof(...ranges.map(([min, max]) => fc.integer({ min, max }))).map((n) => String.fromCharCode(n));
/** Control and invisible characters: C0, DEL and C1, zero-width and bidi controls, BOM. */
const controlChar = codePoint([
  [0x00, 0x1f],
  [0x7f, 0x9f],
  [0x200b, 0x200f],
  [0x202a, 0x202e],
  [0x2060, 0x2064],
  [0xfeff, 0xfeff],
]);
const loneSurrogate = codePoint([[0xd800, 0xdfff]]);
const wrongType = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constant(null),
  fc.constant(undefined),
  fc.boolean(),
  fc.bigInt(),
  fc.object({ maxDepth: 1 }),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.constant(new Date(0)),
);
/** Text longer than `max` code points that trimming cannot shorten. */
const overlong = (max: number) =>
  fc.string({ unit: fc.constantFrom('a', 'Z', '9', 'é', '漢', '😀', '_'), minLength: max + 1, maxLength: max + 40 });

// ---- Unicode data: invisibles, confusables, NFKC ------------------------------------------------

/**
 * Every invisible code point: all of Default_Ignorable_Code_Point (as the JavaScript engine knows it),
 * and the blank or format characters the property leaves out (Braille blank, musical null notehead,
 * interlinear annotation controls, Egyptian hieroglyph format controls).
 */
const INVISIBLE_CODE_POINTS: string[] = [];
for (let cp = 0; cp <= 0x10ffff; cp++) {
  if (cp >= 0xd800 && cp <= 0xdfff) continue;
  const char = String.fromCodePoint(cp);
  if (/\p{Default_Ignorable_Code_Point}/u.test(char)) INVISIBLE_CODE_POINTS.push(char);
}
INVISIBLE_CODE_POINTS.push('\u2800', '\u{1d159}', '\ufff9', '\ufffa', '\ufffb');
for (let cp = 0x13430; cp <= 0x1343f; cp++) INVISIBLE_CODE_POINTS.push(String.fromCodePoint(cp));
const invisibleChar = fc.constantFrom(...INVISIBLE_CODE_POINTS);

/** What looks like each string: Unicode's confusables data (UTS #39) and NFKC, read backwards. */
const LOOKALIKES = new Map<string, Set<string>>();
const addLookalike = (of: string, char: string) => {
  if (of !== char) LOOKALIKES.set(of, (LOOKALIKES.get(of) ?? new Set()).add(char));
};
for (const [char, prototype] of Object.entries(confusablePrototypes as Record<string, string>))
  addLookalike(prototype, char);
for (let cp = 0; cp <= 0x2ffff; cp++) {
  if (cp >= 0xd800 && cp <= 0xdfff) continue;
  const char = String.fromCodePoint(cp);
  addLookalike(char.normalize('NFKC'), char);
}
const lookalikesOf = (char: string) => [
  char,
  char.toUpperCase(),
  ...(LOOKALIKES.get(char) ?? []),
  ...(LOOKALIKES.get(char.toUpperCase()) ?? []),
];

/** A reserved name with every letter independently replaced by itself in either case or any lookalike. */
const reservedLookalike = fc
  .constantFrom(...LIMITS.reservedNames)
  .chain((reserved) =>
    fc.tuple(fc.constant(reserved), ...[...reserved].map((char) => fc.constantFrom(...new Set(lookalikesOf(char))))),
  )
  .map(([reserved, ...chars]) => ({ reserved, name: chars.join('') }));
/** Lookalikes of the tag and mention separators that NFKC or the confusables data gives. */
const separatorLookalike = fc.constantFrom(
  ...['#', '@', ':'].flatMap((separator) =>
    [...(LOOKALIKES.get(separator) ?? [])].filter((char) => /^[\p{P}\p{S}]$/u.test(char)),
  ),
);

const badUsername = fc.oneof(
  fc.constantFrom('', ' ', '   ', '\t', '\n \n', '\u00a0\u3000'),
  fc.string({ unit: fc.constantFrom('a', 'Q', '1', '漢', '😀'), minLength: 0, maxLength: 1 }),
  overlong(LIMITS.username.max),
  fc
    .tuple(
      fc.constantFrom('everyone', 'here'),
      fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
      fc.constantFrom('', ' ', '  '),
    )
    .map(([name, upper, pad]) => pad + [...name].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join('') + pad),
  fc.tuple(validName, fc.constantFrom('@', '#', ':', '```'), fc.nat()).map(([n, c, at]) => insertAt(n, c, at)),
  fc.tuple(validName, controlChar, fc.nat()).map(([n, c, at]) => insertAt(n, c, at)),
  fc.tuple(validName, loneSurrogate, fc.nat()).map(([n, c, at]) => insertAt(n, c, at)),
  fc
    .tuple(validName, fc.constantFrom('  ', ' \u00a0', '\u3000\u3000'), fc.nat())
    .map(([n, c, at]) => insertAt(n, c, at)),
  fc.tuple(validName, invisibleChar, fc.nat()).map(([n, c, at]) => insertAt(n, c, at)),
  reservedLookalike.map(({ name }) => name),
  fc.tuple(validName, separatorLookalike, fc.nat()).map(([n, c, at]) => insertAt(n, c, at)),
  wrongType,
);

const badDiscriminator = fc.oneof(
  fc.constantFrom('0000', '1', '12', '123', '12345', 'abcd', '', ' 123', '１２３４', '-001', '12.3', '0x1f'),
  fc.string({ maxLength: 6 }).filter((s) => !/^[0-9]{4}$/.test(s) || s === '0000'),
);
const goodDiscriminator = fc.integer({ min: 1, max: 9999 }).map((n) => String(n).padStart(4, '0'));
const unknownName = fc.stringMatching(/^zz[a-z0-9]{3,20}$/);
const randomCase = (text: string) =>
  fc
    .array(fc.boolean(), { minLength: text.length, maxLength: text.length })
    .map((upper) => [...text].map((c, i) => (upper[i] ? c.toUpperCase() : c.toLowerCase())).join(''));
const unknownId = fc.bigInt({ min: 1n, max: 2n ** 63n - 1n }).map(String);

function profileText(field: 'displayName' | 'avatar' | 'banner' | 'bio' | 'pronouns') {
  const max = {
    displayName: LIMITS.displayName.max,
    avatar: 512,
    banner: 512,
    bio: LIMITS.bio.max,
    pronouns: LIMITS.pronouns.max,
  }[field];
  const control = field === 'bio' ? controlChar.filter((c) => c !== '\n') : controlChar;
  return fc.oneof(
    overlong(max),
    fc.tuple(validName, control, fc.nat()).map(([n, c, at]) => insertAt(n, c, at)),
    fc.tuple(validName, loneSurrogate, fc.nat()).map(([n, c, at]) => insertAt(n, c, at)),
    fc.oneof(fc.integer(), fc.boolean(), fc.object({ maxDepth: 1 }), fc.array(fc.string(), { maxLength: 2 })),
    ...(field === 'displayName'
      ? [
          fc.constantFrom('', '   ', '\u3000'),
          fc.tuple(validName, invisibleChar, fc.nat()).map(([n, c, at]) => insertAt(n, c, at)),
          reservedLookalike.map(({ name }) => name),
        ]
      : []),
  );
}
const profileField = fc.constantFrom('displayName', 'avatar', 'banner', 'bio', 'pronouns');
const badProfile = fc.oneof(
  profileField.chain((field) => profileText(field).map((value) => ({ [field]: value }))),
  // One bad field next to good ones: nothing at all may be applied.
  profileField.chain((field) => profileText(field).map((value) => ({ bio: 'a good bio', [field]: value }))),
  fc
    .string({ minLength: 1, maxLength: 12 })
    .filter((k) => !['displayName', 'avatar', 'banner', 'bio', 'pronouns'].includes(k))
    .map((k) => ({ [k]: 'x' })),
  fc.oneof(
    fc.constant(null),
    fc.constant(undefined),
    fc.integer(),
    fc.string(),
    fc.array(fc.string(), { maxLength: 2 }),
  ),
);

const badText = (max: number) =>
  fc.oneof(
    overlong(max),
    fc.tuple(validName, controlChar, fc.nat()).map(([n, c, at]) => insertAt(n, c, at)),
    fc.tuple(validName, loneSurrogate, fc.nat()).map(([n, c, at]) => insertAt(n, c, at)),
    fc.oneof(fc.integer(), fc.boolean(), fc.object({ maxDepth: 1 })),
  );
const badDate = fc.oneof(
  fc.string({ maxLength: 40 }).filter((s) => !Number.isFinite(Date.parse(s))),
  fc.constantFrom('2024-13-01T00:00:00Z', '+275760-09-14T00:00:00Z', '-271821-04-19T00:00:00Z', 'tomorrow', 'NaN'),
  fc.oneof(fc.integer(), fc.boolean(), fc.object({ maxDepth: 1 })),
);
const activity = { type: 'PLAYING', name: 'game' };
const badPresence = fc.oneof(
  fc
    .oneof(
      fc.string({ maxLength: 10 }).filter((s) => !['ONLINE', 'IDLE', 'DND', 'INVISIBLE', 'OFFLINE'].includes(s)),
      fc.constantFrom('online', 'Idle', 'AWAY'),
      wrongType.filter((v) => v !== undefined),
    )
    .map((status) => ({ status })),
  fc
    .oneof(fc.string(), fc.integer(), fc.array(fc.string(), { maxLength: 2 }))
    .map((customStatus) => ({ customStatus })),
  badText(LIMITS.customStatus.max).map((text) => ({ customStatus: { text, emoji: null, expiresAt: null } })),
  badText(64).map((emoji) => ({ customStatus: { text: 'ok', emoji, expiresAt: null } })),
  badDate.map((expiresAt) => ({ customStatus: { text: 'ok', emoji: null, expiresAt } })),
  fc
    .oneof(
      fc.string(),
      fc.integer(),
      fc.object({ maxDepth: 1 }).filter((o) => !Array.isArray(o)),
    )
    .map((activities) => ({ activities })),
  fc
    .integer({ min: LIMITS.activities.max + 1, max: 12 })
    .map((n) => ({ activities: Array.from({ length: n }, () => activity) })),
  fc
    .string({ maxLength: 10 })
    .filter((t) => !['PLAYING', 'STREAMING', 'LISTENING', 'WATCHING', 'CUSTOM', 'COMPETING'].includes(t))
    .map((type) => ({ activities: [{ type, name: 'x' }] })),
  fc
    .oneof(badText(128), fc.constantFrom('', null, undefined))
    .map((name) => ({ activities: [{ type: 'PLAYING', name }] })),
  wrongType.filter((v) => v !== undefined && v !== null).map((item) => ({ activities: [item] })),
  fc
    .string({ minLength: 1, maxLength: 10 })
    .filter((k) => !['status', 'customStatus', 'activities'].includes(k))
    .map((k) => ({ [k]: 'ONLINE' })),
  fc.oneof(fc.constant(null), fc.integer(), fc.string(), fc.array(fc.string(), { maxLength: 2 })),
);

const badRegistration = fc.oneof(
  badUsername.map((username) => ({ username })),
  fc.tuple(validName, profileText('displayName')).map(([username, displayName]) => ({ username, displayName })),
  fc
    .tuple(
      validName,
      fc.oneof(
        fc.string({ maxLength: 12 }).filter((p) => !['NONE', 'NITRO_CLASSIC', 'NITRO', 'NITRO_BASIC'].includes(p)),
        fc.integer(),
        fc.boolean(),
      ),
    )
    .map(([username, premiumType]) => ({ username, premiumType })),
  fc.oneof(
    fc.constant(null),
    fc.constant(undefined),
    fc.integer(),
    fc.string(),
    fc.array(fc.string(), { maxLength: 2 }),
  ),
);

const badTag = fc.oneof(
  validName, // no discriminator at all
  fc.tuple(validName, badDiscriminator).map(([n, d]) => `${n}#${d}`),
  fc
    .tuple(
      badUsername.filter((u): u is string => typeof u === 'string' && !u.includes('#')),
      goodDiscriminator,
    )
    .map(([n, d]) => `${n}#${d}`),
  wrongType,
);

// any: the fuzz hands values of the wrong type to typed APIs on purpose; `run` must accept them unchecked.
const ofFamily =
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  (family: string, allowed: ErrorClass[], run: (input: any) => Case['run']) =>
    (input: unknown): Case => ({ family, input, allowed, run: run(input) });

const cases: fc.Arbitrary<Case> = fc.oneof(
  badRegistration.map(ofFamily('register', [ValidationFailed], (input) => (em) => new UserService(em).register(input))),
  badUsername.map(ofFamily('changeUsername', [ValidationFailed], (name) => (_em, me) => me.changeUsername(name))),
  badTag.map(
    ofFamily(
      'sendFriendRequest: malformed tag or not a user',
      [ValidationFailed],
      (tag) => (_em, me) => me.sendFriendRequest(tag),
    ),
  ),
  fc
    .tuple(unknownName, goodDiscriminator)
    .map(([n, d]) => `${n}#${d}`)
    .map(ofFamily('sendFriendRequest: unknown tag', [NotFound], (tag) => (_em, me) => me.sendFriendRequest(tag))),
  fc
    .oneof(
      randomCase('FuzzAlice').map((n) => ({ kind: 'own tag', tag: () => `${n}#${alice.discriminator}` })),
      fc.constant({ kind: 'self', tag: () => null }),
    )
    .map(
      ofFamily(
        'sendFriendRequest: self',
        [SelfRelationship],
        (input) => (_em, me) => me.sendFriendRequest(input.tag() ?? me),
      ),
    ),
  fc
    .constantFrom('carol', 'dave')
    .chain((who) => randomCase(who === 'carol' ? 'FuzzCarol' : 'FuzzDave').map((n) => ({ who, n })))
    .map(
      ofFamily(
        'sendFriendRequest: blocked or already friends',
        [UserBlocked, AlreadyFriends],
        (input: { who: string; n: string }) => (_em, me) =>
          me.sendFriendRequest(`${input.n}#${input.who === 'carol' ? carol.discriminator : dave.discriminator}`),
      ),
    ),
  fc.tuple(unknownId, fc.constantFrom('request to', 'request from', 'accept', 'block', 'rename', 'presence')).map(
    ofFamily('unknown user', [NotFound], ([id, op]: [string, string]) => (em, me) => {
      const ghost = em.getReference(User, id);
      switch (op) {
        case 'request to':
          return me.sendFriendRequest(ghost);
        case 'request from':
          return ghost.sendFriendRequest(me);
        case 'accept':
          return me.acceptFriendRequest(ghost);
        case 'block':
          return me.block(ghost);
        case 'rename':
          return ghost.changeUsername('ghostname');
        default:
          return ghost.setPresence({ status: 'ONLINE' });
      }
    }),
  ),
  badProfile.map(
    ofFamily('updateProfile', [ValidationFailed], (profile) => async (em, me) => {
      me.updateProfile(profile);
      await commit(em);
    }),
  ),
  badPresence.map(ofFamily('setPresence', [ValidationFailed], (update) => (_em, me) => me.setPresence(update))),
);

/** Row counts of the identity tables and Alice's own rows: any write would change one of them. */
async function snapshot() {
  const [row] = await db().sql(
    `select (select count(*) from "User")::int as users, (select count(*) from "UserPresence")::int as presences,
            (select count(*) from "Relationship")::int as relationships, (select count(*)
              from "DomainEvent")::int as events,
            (select row_to_json(u) from "User" u where id = $1) as alice,
            (select row_to_json(p) from "UserPresence" p where "userId" = $1) as presence`,
    [alice.id],
  );
  return row;
}

const describeInput = (input: unknown) => {
  try {
    return JSON.stringify(input, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(input);
  } catch {
    return String(input);
  }
};

describe('1,000 generated bad inputs to the identity methods', () => {
  it('each gives a typed domain error, never a raw database error, and writes nothing', async () => {
    let tried = 0;
    const byFamily = new Map<string, number>();
    const before = await snapshot();
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        tried++;
        byFamily.set(c.family, (byFamily.get(c.family) ?? 0) + 1);
        const em = db().fork();
        const me = await em.findOneOrFail(User, alice.id);
        let error: unknown;
        try {
          await c.run(em, me);
        } catch (e) {
          error = e;
        }
        const failure = error as Error | undefined;
        const outcome = error === undefined ? 'no error' : `${failure?.constructor?.name}: ${failure?.message}`;
        const label = `${c.family}: ${describeInput(c.input)} -> ${outcome}`;
        expect(error, label).toBeInstanceOf(DomainError);
        expect(
          c.allowed.some((type) => error instanceof type),
          label,
        ).toBe(true);
        expect(await snapshot(), label).toEqual(before);
      }),
      { numRuns: 1000 },
    );
    expect(tried).toBeGreaterThanOrEqual(1000);
    // Every family was exercised, not just the easy ones.
    expect([...byFamily.keys()].sort()).toHaveLength(9);
    for (const [family, n] of byFamily) expect(n, family).toBeGreaterThanOrEqual(40);
  });
});

// ---- names compared as people see them (issue 16): drawn from Unicode's data, not only ASCII ------

/** The reason a call was refused, or 'accepted'. */
async function outcome(run: () => unknown): Promise<ValidationFailed | 'accepted'> {
  try {
    await run();
    return 'accepted';
  } catch (error) {
    if (error instanceof ValidationFailed) return error;
    throw error;
  }
}

const hex = (char: string) => `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/** Names that cannot be reserved ("zz..."), in many scripts and compatibility forms, with emoji sequences. */
const friendlyName = fc
  .tuple(
    fc.string({
      unit: fc.constantFrom(
        'a',
        'Z',
        '9',
        '_',
        '.',
        '-',
        ' ',
        'é',
        'ñ',
        'ж',
        'Ω',
        'ς',
        '漢',
        '한',
        'ｱ',
        'ｗ',
        'Ｋ',
        '𝐁',
        'ﬁ',
        '²',
        'न',
        'ः',
        '❤️',
        '👨‍💻',
        '🏴󠁧󠁢󠁳󠁣󠁴󠁿',
      ),
      maxLength: 8,
    }),
    fc.constantFrom('', ' ', '\t'),
  )
  .map(([body, pad]) => `${pad}zz${body}${pad}`)
  .filter(
    (name) =>
      !/\s{2,}/.test(name.normalize('NFKC').trim()) && [...name.normalize('NFKC').trim()].length <= LIMITS.username.max,
  );
/** Names with no emoji, into which any invisible code point can be put without forming an emoji sequence. */
const plainName = fc
  .string({
    unit: fc.constantFrom('a', 'Z', '9', '_', 'é', 'ж', 'Ω', '漢', '한', 'ｱ', 'ｗ', '𝐁', 'न', 'ः'),
    minLength: 2,
    maxLength: 12,
  })
  .map((body) => `zz${body}`);

describe('names are compared as people see them, drawn from Unicode data', () => {
  it('any lookalike of a reserved name (confusables data, NFKC, either case) is refused as a username and a display name; nothing is written', async () => {
    const before = await snapshot();
    let tried = 0;
    await fc.assert(
      fc.asyncProperty(reservedLookalike, fc.constantFrom('', ' ', '  '), async ({ reserved, name }, pad) => {
        tried++;
        const em = db().fork();
        const me = await em.findOneOrFail(User, alice.id);
        const padded = pad + name + pad;
        const refusals = [
          await outcome(() => new UserService(em).register({ username: padded })),
          await outcome(() => me.changeUsername(padded)),
          await outcome(() => new UserService(em).register({ username: 'FuzzPlain', displayName: padded })),
          await outcome(() => me.updateProfile({ displayName: padded })),
        ];
        for (const [i, refusal] of refusals.entries()) {
          expect(refusal, `${i}: ${padded} (${[...name].map(hex).join(' ')})`).toBeInstanceOf(ValidationFailed);
          expect((refusal as ValidationFailed).details.reserved, padded).toBe(reserved);
        }
      }),
      { numRuns: 400 },
    );
    expect(tried).toBe(400);
    expect(await snapshot()).toEqual(before);
  });

  it('any invisible code point anywhere in a name is refused at register, changeUsername and updateProfile; nothing is written', async () => {
    const before = await snapshot();
    await fc.assert(
      fc.asyncProperty(plainName, invisibleChar, fc.nat(), fc.boolean(), async (name, invisible, at, repeat) => {
        const chars = [...name]; // by code point: a surrogate pair is not split
        const i = 1 + (at % (chars.length - 1));
        const text = [...chars.slice(0, i), repeat ? invisible.repeat(3) : invisible, ...chars.slice(i)].join('');
        const em = db().fork();
        const me = await em.findOneOrFail(User, alice.id);
        const refusals = [
          ['username', await outcome(() => new UserService(em).register({ username: text }))],
          ['username', await outcome(() => me.changeUsername(text))],
          [
            'displayName',
            await outcome(() => new UserService(em).register({ username: 'FuzzPlain', displayName: text })),
          ],
          ['displayName', await outcome(() => me.updateProfile({ displayName: text }))],
        ] as const;
        for (const [field, refusal] of refusals) {
          expect(refusal, `${field}: ${JSON.stringify(text)}`).toBeInstanceOf(ValidationFailed);
          expect((refusal as ValidationFailed).field).toBe(field);
          expect((refusal as ValidationFailed).details.codePoint, JSON.stringify(text)).toBe(hex(invisible));
        }
      }),
      { numRuns: 400 },
    );
    expect(await snapshot()).toEqual(before);
  });

  it('valid names survive the round trip: stored in NFKC (display names as typed), found by the tag as typed and as stored', async () => {
    const repo = () => db().fork().getRepository(User);
    await fc.assert(
      fc.asyncProperty(friendlyName, async (name) => {
        const user = await new UserService(db().fork()).register({ username: name, displayName: name });
        const username = name.normalize('NFKC').trim();
        expect(user.username).toBe(username);
        const [row] = await db().sql<{ username: string; displayName: string }>(
          `select username, "displayName" from "User" where id = $1`,
          [user.id],
        );
        expect(row).toEqual({ username, displayName: name.trim() });
        expect((await repo().findByTag(`${name}#${user.discriminator}`))?.id, name).toBe(user.id);
        expect((await repo().findByTag(`${username}#${user.discriminator}`))?.id, name).toBe(user.id);
        // Registering the same name again gives another discriminator of the same name.
        const again = await new UserService(db().fork()).register({ username: name });
        expect(again.username).toBe(username);
        expect(again.discriminator).not.toBe(user.discriminator);
      }),
      { numRuns: 100 },
    );
  });
});
