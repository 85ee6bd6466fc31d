import { describe, expect, it } from 'vitest';
import type { EntityManager } from '@mikro-orm/postgresql';
import { commit } from '../src/db/unit-of-work';
import { DiscriminatorsExhausted, DomainError, NotFound, ValidationFailed } from '../src/domain/errors';
import { User } from '../src/entities/user/User';
import { PresenceStatus, UserPresence } from '../src/entities/user/UserPresence';
import { useTestDatabase } from './support/db';
import { UserService } from '../src/identity/user-service';

const db = useTestDatabase();

let serial = 0;
const register = (em: EntityManager, username = `prof${++serial}`) => new UserService(em).register({ username });

async function stored(id: string) {
  const [row] = await db().sql<Record<string, unknown>>(
    `select username, discriminator, "displayName", avatar, banner, bio, pronouns from "User" where id = $1`,
    [id],
  );
  return row;
}

async function presenceRow(id: string) {
  const [row] = await db().sql<{ status: string; customStatus: unknown; activities: unknown; lastSeenAt: Date | null }>(
    `select status, "customStatus", activities, "lastSeenAt" from "UserPresence" where "userId" = $1`,
    [id],
  );
  return row;
}

async function eventsFor(id: string, type: string) {
  return db().sql<{ payload: Record<string, unknown>; userIds: string[] }>(
    `select payload, "userIds"::text[] as "userIds" from "DomainEvent" where type = $2 and "userIds" && $1::bigint[]
      order by id`,
    [[id], type],
  );
}

async function failure(op: () => unknown): Promise<DomainError> {
  try {
    await op();
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    return error as DomainError;
  }
  throw new Error('expected the operation to fail');
}

describe('updateProfile', () => {
  it('writes the fields and one USER_UPDATE event when the caller flushes; null clears; no change, no event', async () => {
    const em = db().fork();
    const user = await register(em);
    user.updateProfile({
      displayName: '  Captain  ',
      bio: 'line one\nline two',
      pronouns: 'they/them',
      avatar: 'avatars/1.png',
      banner: 'b.png',
    });
    await commit(em);
    expect(await stored(user.id)).toMatchObject({
      displayName: 'Captain',
      bio: 'line one\nline two',
      pronouns: 'they/them',
      avatar: 'avatars/1.png',
      banner: 'b.png',
    });
    let events = await eventsFor(user.id, 'USER_UPDATE');
    expect(events).toHaveLength(1);
    expect(events[0].userIds).toEqual([user.id]);
    expect(events[0].payload.user).toMatchObject({
      id: user.id,
      username: user.username,
      discriminator: user.discriminator,
      displayName: 'Captain',
      bio: 'line one\nline two',
    });

    user.updateProfile({ displayName: 'Captain', bio: 'line one\nline two' }); // same values
    await commit(em);
    expect(await eventsFor(user.id, 'USER_UPDATE')).toHaveLength(1);

    user.updateProfile({ bio: null, pronouns: '   ' }); // blank clears too
    await commit(em);
    expect(await stored(user.id)).toMatchObject({ displayName: 'Captain', bio: null, pronouns: null });
    events = await eventsFor(user.id, 'USER_UPDATE');
    expect(events).toHaveLength(2);
    expect(events[1].payload.user).toMatchObject({ bio: null, pronouns: null });
  });

  it('refuses bad fields with ValidationFailed before changing anything', async () => {
    const em = db().fork();
    const user = await register(em);
    user.updateProfile({ bio: 'kept' });
    await commit(em);
    const before = await stored(user.id);
    const cases: [unknown, string][] = [
      [{ displayName: '' }, 'displayName'],
      [{ displayName: 'x'.repeat(33) }, 'displayName'],
      [{ displayName: 'two\nlines' }, 'displayName'],
      [{ displayName: 'nul\u0000' }, 'displayName'],
      [{ displayName: 42 }, 'displayName'],
      [{ bio: 'x'.repeat(191) }, 'bio'],
      [{ bio: 'broken \ud800 surrogate' }, 'bio'],
      [{ bio: { text: 'object' } }, 'bio'],
      [{ pronouns: 'x'.repeat(41) }, 'pronouns'],
      [{ avatar: 'x'.repeat(513) }, 'avatar'],
      [{ banner: ['array'] }, 'banner'],
      [{ bio: 'fine', displayName: '' }, 'displayName'], // one bad field: the good one is not applied either
      [{ dispalyName: 'typo' }, 'profile'],
      [null, 'profile'],
      [[], 'profile'],
      ['bio', 'profile'],
    ];
    for (const [input, field] of cases) {
      const error = await failure(() => user.updateProfile(input as never));
      expect(error, JSON.stringify(input)).toBeInstanceOf(ValidationFailed);
      expect((error as ValidationFailed).field).toBe(field);
    }
    expect(user.bio).toBe('kept');
    await commit(em);
    expect(await stored(user.id)).toEqual(before);
    expect(await eventsFor(user.id, 'USER_UPDATE')).toHaveLength(1);
  });
});

describe('changeUsername', () => {
  it('keeps the discriminator when it is free under the new name, and tells the user', async () => {
    const em = db().fork();
    const user = await register(em, 'Before');
    const { discriminator } = user;
    const renamed = await user.changeUsername('AfterRename');
    expect(renamed.username).toBe('AfterRename');
    expect(renamed.discriminator).toBe(discriminator);
    expect(user.username).toBe('AfterRename'); // the caller's entity reflects it
    expect(await stored(user.id)).toMatchObject({ username: 'AfterRename', discriminator });
    const events = await eventsFor(user.id, 'USER_UPDATE');
    expect(events).toHaveLength(1);
    expect(events[0].payload.user).toMatchObject({ id: user.id, username: 'AfterRename', discriminator });

    // A change of case only is the same name: same discriminator, one more event.
    await user.changeUsername('AFTERRENAME');
    expect(await stored(user.id)).toMatchObject({ username: 'AFTERRENAME', discriminator });
    // The same name again changes nothing and says nothing.
    await user.changeUsername('AFTERRENAME');
    expect(await eventsFor(user.id, 'USER_UPDATE')).toHaveLength(2);
  });

  it('allocates a new discriminator when the current one is taken under the new name', async () => {
    const em = db().fork();
    const holder = await register(em, 'Taken');
    const mover = await register(em, 'Mover');
    // Give the mover the holder's discriminator under its own name, so the clash is certain.
    await db().sql(`update "User" set discriminator = $1 where id = $2`, [holder.discriminator, mover.id]);
    const fresh = await db().fork().findOneOrFail(User, mover.id);
    const renamed = await fresh.changeUsername('taken');
    expect(renamed.discriminator).not.toBe(holder.discriminator);
    expect(renamed.discriminator).toMatch(/^(?!0000)[0-9]{4}$/);
    expect(await stored(mover.id)).toMatchObject({ username: 'taken', discriminator: renamed.discriminator });
    const [payload] = (await eventsFor(mover.id, 'USER_UPDATE')).map((e) => e.payload);
    expect(payload.user).toMatchObject({ username: 'taken', discriminator: renamed.discriminator });
  });

  it('refuses bad names, unknown users and full names, and writes nothing', async () => {
    const em = db().fork();
    const user = await register(em, 'Steady');
    const before = await stored(user.id);
    for (const name of [
      '',
      'x',
      'x'.repeat(33),
      'everyone',
      ' Here ',
      'a@b',
      'a#b',
      'a:b',
      'a```b',
      'nul\u0000l',
      'two  spaces',
      'bad\ud800',
      42,
      null,
    ]) {
      const error = await failure(() => user.changeUsername(name as never));
      expect(error, String(name)).toBeInstanceOf(ValidationFailed);
    }
    await db().sql(
      `insert into "User" (id, username, discriminator) select 500000000000 + n, 'Packed', lpad(n::text, 4, '0')
        from generate_series(1, 9999) n`,
    );
    expect(await failure(() => user.changeUsername('PACKED'))).toBeInstanceOf(DiscriminatorsExhausted);
    expect(await failure(() => em.getReference(User, '123456789012').changeUsername('Ghost'))).toBeInstanceOf(NotFound);
    expect(await stored(user.id)).toEqual(before);
    expect(await eventsFor(user.id, 'USER_UPDATE')).toEqual([]);
  });
});

describe('usernames are matched by the database', () => {
  it('allocation, lookups and the unique index agree for non-ASCII names', async () => {
    // 9998 of 9999 discriminators of "Ñandú" are taken. Allocation must see them all (it used to
    // compare a JavaScript lower-case key with PostgreSQL's lower(), which under the C locale leaves
    // "Ñ" alone, so it saw none and collided with the unique index).
    await db().sql(
      `insert into "User" (id, username, discriminator) select 600000000000 + n, 'Ñandú', lpad(n::text, 4, '0')
        from generate_series(1, 9998) n`,
    );
    const em = db().fork();
    const last = await new UserService(em).register({ username: 'Ñandú' });
    expect(last.discriminator).toBe('9999');
    expect(await failure(() => new UserService(db().fork()).register({ username: 'Ñandú' }))).toBeInstanceOf(
      DiscriminatorsExhausted,
    );

    const repo = db().fork().getRepository(User);
    expect((await repo.findByTag('Ñandú#9999'))?.id).toBe(last.id);
    expect((await repo.findByTag('ÑANDÚ#9999'))?.id).toBe(
      (await sameNameInDatabase('ÑANDÚ', 'Ñandú')) ? last.id : undefined,
    );
    // Whatever the database's collation, a lower-case spelling is found exactly when the database
    // considers it the same name, and registering it is then exhausted too.
    const same = await sameNameInDatabase('ñandú', 'Ñandú');
    expect((await repo.findByTag('ñandú#9999'))?.id).toBe(same ? last.id : undefined);
    const lower = new UserService(db().fork()).register({ username: 'ñandú' });
    if (same) await expect(lower).rejects.toBeInstanceOf(DiscriminatorsExhausted);
    else expect((await lower).username).toBe('ñandú');
  });

  it('a name typed with a combining accent is the same name as its composed form', async () => {
    const em = db().fork();
    const composed = await register(em, 'Am\u00e9lie');
    const found = await db().fork().getRepository(User).findByTag(`Ame\u0301lie#${composed.discriminator}`);
    expect(found?.id).toBe(composed.id);
    const decomposed = await register(em, 'Ame\u0301lie');
    expect(decomposed.username).toBe('Am\u00e9lie');
    expect(decomposed.discriminator).not.toBe(composed.discriminator);
  });
});

async function sameNameInDatabase(x: string, y: string): Promise<boolean> {
  const [row] = await db().sql<{ same: boolean }>(`select lower($1::text) = lower($2::text) as same`, [x, y]);
  return row.same;
}

describe('presence', () => {
  it('setPresence stores the change and writes PRESENCE_UPDATE; no change, no event', async () => {
    const em = db().fork();
    const user = await register(em);
    const presence = await user.setPresence({
      status: 'DND',
      customStatus: { text: 'heads down', emoji: null, expiresAt: '2030-01-01T00:00:00Z' },
      activities: [{ type: 'PLAYING', name: 'Chess' }],
    });
    expect(presence.status).toBe(PresenceStatus.DND);
    const row = await presenceRow(user.id);
    expect(row).toMatchObject({
      status: 'DND',
      customStatus: { text: 'heads down', emoji: null, expiresAt: '2030-01-01T00:00:00.000Z' },
      activities: [{ type: 'PLAYING', name: 'Chess', url: null, details: null, state: null }],
    });
    expect(row.lastSeenAt).toBeInstanceOf(Date);
    const events = await eventsFor(user.id, 'PRESENCE_UPDATE');
    expect(events).toHaveLength(1);
    expect(events[0].payload).toMatchObject({
      user: { id: user.id },
      status: 'DND',
      customStatus: { text: 'heads down' },
      activities: [{ name: 'Chess' }],
    });

    await user.setPresence({ status: 'DND' });
    expect(await eventsFor(user.id, 'PRESENCE_UPDATE')).toHaveLength(1);
  });

  it('an INVISIBLE user is broadcast as OFFLINE, seen as OFFLINE by others and INVISIBLE by themself', async () => {
    const em = db().fork();
    const [user, other] = [await register(em), await register(em)];
    await user.setPresence({
      status: 'ONLINE',
      activities: [{ type: 'LISTENING', name: 'Radio' }],
      customStatus: { text: 'hi', emoji: null, expiresAt: null },
    });
    const presence = await user.setPresence({ status: 'INVISIBLE' });
    expect((await presenceRow(user.id)).status).toBe('INVISIBLE');
    const events = await eventsFor(user.id, 'PRESENCE_UPDATE');
    expect(events).toHaveLength(2);
    expect(events[1].payload).toEqual({ user: { id: user.id }, status: 'OFFLINE', customStatus: null, activities: [] });
    expect(JSON.stringify(events[1].payload)).not.toContain('INVISIBLE');

    expect(presence.statusSeenBy(other.id)).toBe(PresenceStatus.OFFLINE);
    expect(presence.statusSeenBy(user.id)).toBe(PresenceStatus.INVISIBLE);
    const loaded = await db().fork().findOneOrFail(UserPresence, { user: user.id });
    expect(loaded.statusSeenBy(other.id)).toBe(PresenceStatus.OFFLINE);
    expect(loaded.statusSeenBy(user.id)).toBe(PresenceStatus.INVISIBLE);
  });

  it('applies a change against the stored presence, not a stale copy the caller loaded earlier', async () => {
    const em = db().fork();
    const user = await register(em);
    await user.setPresence({ status: 'ONLINE' }); // em now holds the presence as ONLINE
    const elsewhere = await db().fork().findOneOrFail(User, user.id);
    await elsewhere.setPresence({ status: 'IDLE' }); // another request changes it
    await user.setPresence({ status: 'ONLINE' }); // back to ONLINE: a real change
    expect((await presenceRow(user.id)).status).toBe('ONLINE');
    const statuses = (await eventsFor(user.id, 'PRESENCE_UPDATE')).map((e) => e.payload.status);
    expect(statuses).toEqual(['ONLINE', 'IDLE', 'ONLINE']);
  });

  it('refuses bad presence updates with ValidationFailed and writes nothing', async () => {
    const em = db().fork();
    const user = await register(em);
    await user.setPresence({ status: 'IDLE' });
    const before = await presenceRow(user.id);
    const bad: unknown[] = [
      { status: 'online' },
      { status: 'AWAY' },
      { status: 3 },
      { status: null },
      { customStatus: 'busy' },
      { customStatus: { text: 'x'.repeat(129), emoji: null, expiresAt: null } },
      { customStatus: { text: 'nul\u0000', emoji: null, expiresAt: null } },
      { customStatus: { text: 'half \udc00', emoji: null, expiresAt: null } },
      { customStatus: { text: 'x', emoji: null, expiresAt: 'not a date' } },
      { customStatus: { text: 'x', emoji: null, expiresAt: '+275760-09-14T00:00:00Z' } },
      { activities: 'PLAYING' },
      { activities: Array.from({ length: 6 }, () => ({ type: 'PLAYING', name: 'x' })) },
      { activities: [{ type: 'SLEEPING', name: 'x' }] },
      { activities: [{ type: 'PLAYING' }] },
      { activities: [null] },
      { staus: 'ONLINE' },
      [],
      null,
      'ONLINE',
    ];
    for (const update of bad) {
      const error = await failure(() => user.setPresence(update as never));
      expect(error, JSON.stringify(update)).toBeInstanceOf(ValidationFailed);
    }
    expect(await presenceRow(user.id)).toEqual(before);
    expect(await eventsFor(user.id, 'PRESENCE_UPDATE')).toHaveLength(1);
    expect(await failure(() => em.getReference(User, '123456789013').setPresence({ status: 'ONLINE' }))).toBeInstanceOf(
      NotFound,
    );
  });

  it('the documented presence query runs verbatim and returns the users who are not OFFLINE', async () => {
    const em = db().fork();
    const online = await register(em);
    const idle = await register(em);
    const dnd = await register(em);
    const invisible = await register(em);
    const offline = await register(em);
    const wentOffline = await register(em);
    await online.setPresence({ status: 'ONLINE' });
    await idle.setPresence({ status: 'IDLE' });
    await dnd.setPresence({ status: 'DND' });
    await invisible.setPresence({ status: 'INVISIBLE' });
    await wentOffline.setPresence({ status: 'ONLINE' });
    await wentOffline.setPresence({ status: 'OFFLINE' });
    const mine = [online, idle, dnd, invisible, offline, wentOffline].map((u) => u.id);

    const rows = await db().sql<{ id: string; username: string; status: string }>(
      `SELECT u.*, up.status FROM "User" u LEFT JOIN "UserPresence" up ON u.id = up."userId"
        WHERE up.status != 'OFFLINE'`,
    );
    const ours = rows.filter((r) => mine.includes(String(r.id)));
    expect(Object.fromEntries(ours.map((r) => [String(r.id), r.status]))).toEqual({
      [online.id]: 'ONLINE',
      [idle.id]: 'IDLE',
      [dnd.id]: 'DND',
      [invisible.id]: 'INVISIBLE',
    });
    // u.* really is the user row, under the documented column names.
    const first = ours.find((r) => String(r.id) === online.id)!;
    expect(first).toMatchObject({
      username: online.username,
      discriminator: online.discriminator,
      displayName: null,
      premiumType: 'NONE',
    });
  });
});

// ---- names compared as people see them (issue 16) ---------------------------------------------

/** Invisible classes of the issue, and blank or format characters Default_Ignorable_Code_Point leaves out. */
const INVISIBLE_SAMPLES = [
  '\u00ad',
  '\u034f',
  '\u115f',
  '\u1160',
  '\u3164',
  '\uffa0',
  '\u2800',
  '\u180e',
  '\u{e0001}',
  '\u{e0041}',
  '\u200b',
  '\ufe0f',
  '\ufff9',
  '\u{1d159}',
];
const RESERVED_LOOKALIKES = [
  '\uff45\uff56\uff45\uff52\uff59\uff4f\uff4e\uff45',
  '\u0435v\u0435r\u0443\u043en\u0435',
  'EVERY0NE',
  '𝓱𝓮𝓻𝓮',
  '\u041d\u0415R\u0415',
  'h\u0435re',
];
const SEPARATOR_LOOKALIKES = ['a\uff03b', 'a\ufe5fb', 'a\uff20b', 'a\uff1ab', 'a\u2236b', 'a\uff40\uff40\uff40b'];

describe('changeUsername and updateProfile compare names as people see them', () => {
  it('changeUsername refuses invisible characters, reserved lookalikes and separator lookalikes, and writes nothing', async () => {
    const em = db().fork();
    const user = await register(em, 'Lookalike');
    const before = await stored(user.id);
    const names = [...INVISIBLE_SAMPLES.map((c) => `Look${c}alike`), ...RESERVED_LOOKALIKES, ...SEPARATOR_LOOKALIKES];
    for (const name of names) {
      const error = await failure(() => user.changeUsername(name));
      expect(error, name).toBeInstanceOf(ValidationFailed);
      expect((error as ValidationFailed).field, name).toBe('username');
    }
    expect(await stored(user.id)).toEqual(before);
    expect(await eventsFor(user.id, 'USER_UPDATE')).toEqual([]);
  });

  it('changeUsername to the fullwidth spelling of the same name stores the plain form and keeps the discriminator', async () => {
    const em = db().fork();
    const user = await register(em, 'Narrow');
    const { discriminator } = user;
    await user.changeUsername('\uff2e\uff41\uff52\uff52\uff4f\uff57'); // "Ｎａｒｒｏｗ": the same name, nothing to do
    expect(await stored(user.id)).toMatchObject({ username: 'Narrow', discriminator });
    expect(await eventsFor(user.id, 'USER_UPDATE')).toEqual([]);
    await user.changeUsername('\uff2e\uff21\uff32\uff32\uff2f\uff37'); // "ＮＡＲＲＯＷ": a change of case only
    expect(await stored(user.id)).toMatchObject({ username: 'NARROW', discriminator });
  });

  it('updateProfile refuses a display name with invisible characters or that looks like a reserved name, and writes nothing', async () => {
    const em = db().fork();
    const user = await register(em);
    user.updateProfile({ displayName: 'Kept' });
    await commit(em);
    const before = await stored(user.id);
    for (const displayName of [
      ...INVISIBLE_SAMPLES.map((c) => `Dis${c}play`),
      ...INVISIBLE_SAMPLES.map((c) => c.repeat(3)),
      ...RESERVED_LOOKALIKES,
      'everyone',
      ' Here ',
    ]) {
      const error = await failure(() => user.updateProfile({ displayName, bio: 'not applied either' }));
      expect(error, displayName).toBeInstanceOf(ValidationFailed);
      expect((error as ValidationFailed).field, displayName).toBe('displayName');
    }
    expect(user.displayName).toBe('Kept');
    await commit(em);
    expect(await stored(user.id)).toEqual(before);
    expect(await eventsFor(user.id, 'USER_UPDATE')).toHaveLength(1);
  });
});
