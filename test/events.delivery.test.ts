import { Client, type Notification } from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ValidationFailed } from '../src/domain/errors';
import type { DomainEventType } from '../src/domain/events';
import { consumeEvents } from '../src/db/event-consumer';
import { listenForEvents, type EventListener } from '../src/db/event-listener';
import { commit } from '../src/db/unit-of-work';
import { DomainEvent } from '../src/entities/events/DomainEvent';
import {
  type DeliveredEvent,
  type DomainEventRepository,
  EVENTS_CHANNEL,
} from '../src/entities/events/DomainEventRepository';
import { User } from '../src/entities/user/User';
import { useTestDatabase } from './support/db';
import { deliverable, registerLatest } from './support/events';
import { UserService } from '../src/identity/user-service';

const db = useTestDatabase({ poolSize: 10 });

const events = (em: EntityManager = db().fork()) => em.getRepository<DomainEvent, DomainEventRepository>(DomainEvent);

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function rawClient(): Promise<Client> {
  const client = new Client({ connectionString: db().url });
  await client.connect();
  cleanups.push(() => client.end());
  return client;
}

async function listener(): Promise<EventListener> {
  const l = await listenForEvents(db().url);
  cleanups.push(() => l.close());
  return l;
}

let seq = 0;
const newUser = () => new UserService(db().fork()).register({ username: `deliver${++seq}` });

async function changeBio(userId: string, bio: string): Promise<void> {
  const em = db().fork();
  const user = await em.findOneOrFail(User, userId);
  user.updateProfile({ bio });
  await commit(em);
}

/** Inserts an outbox row directly (types and scopes the identity aggregates do not produce yet). */
async function insertEvent(
  type: DomainEventType,
  serverId: string | null,
  note: string,
  client?: Client,
): Promise<string> {
  const text = `insert into "DomainEvent" ("type", "payload", "serverId", "createdAt") values ($1, $2, $3, now())
    returning id::text as id`;
  const params = [type, JSON.stringify({ note }), serverId];
  const rows = client
    ? (await client.query<{ id: string }>(text, params)).rows
    : await db().sql<{ id: string }>(text, params);
  return rows[0].id;
}

/** Resolves with the first batch whose events satisfy `done`; the loop keeps running until aborted. */
function collector(done: (all: DeliveredEvent[]) => boolean) {
  const all: DeliveredEvent[] = [];
  let resolve!: (events: DeliveredEvent[]) => void;
  const finished = new Promise<DeliveredEvent[]>((r) => (resolve = r));
  return {
    all,
    finished,
    handler: (batch: DeliveredEvent[]) => {
      all.push(...batch);
      if (done(all)) resolve(all);
    },
  };
}

describe('NOTIFY wake-up', () => {
  it('a waiting listener wakes when an event commits', async () => {
    const alice = await newUser();
    const l = await listener();
    const waiting = l.wait(30_000);
    await changeBio(alice.id, 'wake up');
    expect(await waiting).toBe('notified');
  });

  it('a rolled-back transaction sends no notification; the next commit sends exactly its own', async () => {
    const raw = await rawClient();
    const payloads: string[] = [];
    let first!: () => void;
    const arrived = new Promise<void>((resolve) => (first = resolve));
    raw.on('notification', (n: Notification) => {
      if (n.channel !== EVENTS_CHANNEL) return;
      payloads.push(n.payload ?? '');
      first();
    });
    await raw.query(`listen "${EVENTS_CHANNEL}"`);

    const writer = await rawClient();
    await writer.query('begin');
    const rolledBackId = await insertEvent('MESSAGE_CREATE', null, 'rolled back', writer);
    await writer.query('rollback');
    // Notifications reach listeners in commit order: had the rollback sent one, it would come first.
    await writer.query('begin');
    const committedId = await insertEvent('MESSAGE_CREATE', null, 'committed', writer);
    await writer.query('commit');
    await arrived;
    expect(payloads[0]).toBe(committedId);
    expect(payloads).not.toContain(rolledBackId);
  });

  it('a rolled-back domain operation does not wake an EventListener; a commit after it does', async () => {
    const alice = await newUser();
    const payloads: string[] = [];
    let arrived!: () => void;
    const first = new Promise<void>((resolve) => (arrived = resolve));
    const l = await listenForEvents(db().url, {
      onNotification: (payload) => {
        payloads.push(payload);
        arrived();
      },
    });
    cleanups.push(() => l.close());
    await expect(
      db()
        .fork()
        .transactional(async (tx) => {
          const a = await tx.findOneOrFail(User, alice.id);
          a.updateProfile({ bio: 'rolled back' });
          await tx.flush();
          throw new Error('rollback');
        }),
    ).rejects.toThrow('rollback');
    // A sentinel on the same channel, sent after the rollback: notifications reach a listener in
    // commit order, so had the rollback sent one, it would arrive before the sentinel.
    const sentinel = await rawClient();
    await sentinel.query(`select pg_notify($1, 'sentinel')`, [EVENTS_CHANNEL]);
    await first;
    expect(payloads).toEqual(['sentinel']);
    expect(await l.wait(30_000)).toBe('notified'); // the sentinel's wake-up
    const aborted = new AbortController();
    aborted.abort();
    expect(await l.wait(30_000, aborted.signal)).toBe('aborted'); // nothing else pending
    const waiting = l.wait(30_000);
    await changeBio(alice.id, 'committed');
    expect(await waiting).toBe('notified');
    const [{ id }] = await db().sql<{ id: string }>(`select max(id)::text as id from "DomainEvent"`);
    expect(payloads).toEqual(['sentinel', id]);
  });

  it('consumeEvents with LISTEN delivers an event committed while it waits, with a wait far longer than the test', async () => {
    const alice = await newUser();
    await registerLatest(db(), 'listen-consumer');
    const controller = new AbortController();
    const c = collector((all) =>
      all.some((e) => e.payload.user && (e.payload.user as { bio: string }).bio === 'pushed'),
    );
    const loop = consumeEvents(db().orm, 'listen-consumer', c.handler, {
      idleMs: 10 * 60_000,
      signal: controller.signal,
    });
    cleanups.push(async () => {
      controller.abort();
      await loop;
    });
    // Let the loop reach its wait: it registers nothing new, so poll the listener count in pg_stat_activity.
    for (;;) {
      const rows = await db().sql<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity where query like 'listen "${EVENTS_CHANNEL}"%'
          and datname = current_database()`,
      );
      if (rows[0].n > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await changeBio(alice.id, 'pushed');
    const delivered = await c.finished;
    expect(delivered.map((e) => (e.payload.user as { bio: string }).bio)).toEqual(['pushed']);
    controller.abort();
    const result = await loop;
    expect(result.delivered).toBe(1);
    expect(await events().cursorOf('listen-consumer')).toBe(delivered[0].id);
  });
});

describe('delivery without LISTEN', () => {
  it('consumeEvents with listen: false delivers by polling alone', async () => {
    const alice = await newUser();
    await registerLatest(db(), 'poll-only');
    const controller = new AbortController();
    const c = collector((all) => all.length >= 3);
    const loop = consumeEvents(db().orm, 'poll-only', c.handler, {
      idleMs: 20,
      listen: false,
      signal: controller.signal,
      batchSize: 2,
    });
    for (const bio of ['one', 'two', 'three']) await changeBio(alice.id, bio);
    const delivered = await c.finished;
    controller.abort();
    const result = await loop;
    expect(delivered.map((e) => (e.payload.user as { bio: string }).bio)).toEqual(['one', 'two', 'three']);
    expect(result).toMatchObject({ consumer: 'poll-only', delivered: 3, lastId: delivered[2].id });
    expect(result.batches).toBeGreaterThanOrEqual(2); // batchSize 2
  });

  it('a listening consumer still delivers an event whose notification never came (trigger bypassed)', async () => {
    await registerLatest(db(), 'lost-notify');
    const controller = new AbortController();
    const c = collector((all) => all.length >= 1);
    const loop = consumeEvents(db().orm, 'lost-notify', c.handler, { idleMs: 50, signal: controller.signal });
    const writer = await rawClient();
    await writer.query(`set session_replication_role = replica`); // ordinary triggers do not fire: no NOTIFY
    const id = await insertEvent('MESSAGE_CREATE', null, 'silent', writer);
    const delivered = await c.finished;
    controller.abort();
    await loop;
    expect(delivered.map((e) => e.id)).toEqual([id]);
  });

  it('a handler that throws leaves its batch unacknowledged; a restarted consumer gets it again', async () => {
    await registerLatest(db(), 'crashy');
    const ids = [await insertEvent('MESSAGE_CREATE', null, 'a'), await insertEvent('MESSAGE_UPDATE', null, 'b')];
    const before = await events().cursorOf('crashy');
    await expect(
      consumeEvents(
        db().orm,
        'crashy',
        () => {
          throw new Error('handler failed');
        },
        { listen: false, idleMs: 10 },
      ),
    ).rejects.toThrow('handler failed');
    expect(await events().cursorOf('crashy')).toBe(before);

    const controller = new AbortController();
    const c = collector((all) => all.length >= 2);
    const loop = consumeEvents(db().orm, 'crashy', c.handler, { listen: false, idleMs: 10, signal: controller.signal });
    expect((await c.finished).map((e) => e.id)).toEqual(ids);
    controller.abort();
    await loop;
    expect(await events().cursorOf('crashy')).toBe(ids[1]);
  });

  it('transactional: the handler’s own writes commit with the acknowledgement, or neither does', async () => {
    await registerLatest(db(), 'tx-consumer');
    const id = await insertEvent('GUILD_CREATE', null, 'tx');
    const alice = await newUser();
    await expect(
      consumeEvents(
        db().orm,
        'tx-consumer',
        async (_batch, { em }) => {
          await em.execute(`update "User" set "pronouns" = 'handled' where id = ?`, [alice.id]);
          throw new Error('after writing');
        },
        { listen: false, transactional: true },
      ),
    ).rejects.toThrow('after writing');
    expect(
      (await db().sql<{ pronouns: string | null }>(`select pronouns from "User" where id = $1`, [alice.id]))[0]
        .pronouns,
    ).toBeNull();
    expect(await events().cursorOf('tx-consumer')).not.toBe(id);

    const controller = new AbortController();
    const loop = consumeEvents(
      db().orm,
      'tx-consumer',
      async (_batch, { em }) => {
        await em.execute(`update "User" set "pronouns" = 'handled' where id = ?`, [alice.id]);
        controller.abort();
      },
      { listen: false, transactional: true, signal: controller.signal },
    );
    await loop;
    expect(
      (await db().sql<{ pronouns: string | null }>(`select pronouns from "User" where id = $1`, [alice.id]))[0]
        .pronouns,
    ).toBe('handled');
    expect(await events().cursorOf('tx-consumer')).toBe(id);
  });
});

describe('poll filters', () => {
  it('types and serverId select events; the cursor still bounds them', async () => {
    await registerLatest(db(), 'filters');
    const s1 = '100000000000000001';
    const s2 = '100000000000000002';
    const created = [
      { type: 'MESSAGE_CREATE', server: s1 },
      { type: 'MESSAGE_DELETE', server: s1 },
      { type: 'MESSAGE_CREATE', server: s2 },
      { type: 'GUILD_UPDATE', server: s2 },
      { type: 'MESSAGE_CREATE', server: null },
    ] as const;
    const ids: string[] = [];
    for (const [i, e] of created.entries()) ids.push(await insertEvent(e.type, e.server, `f${i}`));
    await deliverable(db(), ids[ids.length - 1]);
    const poll = (options: Parameters<DomainEventRepository['poll']>[1]) =>
      events()
        .poll('filters', options)
        .then((r) => r.map((e) => e.id));

    expect(await poll({})).toEqual(ids);
    expect(await poll({ types: ['MESSAGE_CREATE'] })).toEqual([ids[0], ids[2], ids[4]]);
    expect(await poll({ types: ['MESSAGE_CREATE', 'GUILD_UPDATE'] })).toEqual([ids[0], ids[2], ids[3], ids[4]]);
    expect(await poll({ serverId: s1 })).toEqual([ids[0], ids[1]]);
    expect(await poll({ serverId: s2, types: ['MESSAGE_CREATE'] })).toEqual([ids[2]]);
    expect(await poll({ serverId: s2, types: ['CHANNEL_CREATE'] })).toEqual([]);
    expect(await poll({ types: ['MESSAGE_CREATE'], limit: 2 })).toEqual([ids[0], ids[2]]);
    const first = (await events().poll('filters', { serverId: s2 }))[0];
    expect(first).toMatchObject({
      id: ids[2],
      type: 'MESSAGE_CREATE',
      serverId: s2,
      channelId: null,
      userIds: null,
      payload: { note: 'f2' },
    });

    await events().ack('filters', ids[2]);
    expect(await poll({ types: ['MESSAGE_CREATE'] })).toEqual([ids[4]]);
    expect(await poll({ serverId: s1 })).toEqual([]);

    await expect(events().poll('filters', { types: ['NOT_A_TYPE' as DomainEventType] })).rejects.toBeInstanceOf(
      ValidationFailed,
    );
    await expect(events().poll('filters', { limit: 0 })).rejects.toBeInstanceOf(ValidationFailed);
    await expect(events().poll('bad name!', {})).rejects.toBeInstanceOf(ValidationFailed);
    await expect(events().poll('filters', { serverId: 'not-an-id' })).rejects.toBeInstanceOf(ValidationFailed);
  });

  it('consumeEvents passes the filters through', async () => {
    await registerLatest(db(), 'filtered-loop');
    const server = '100000000000000009';
    const ids = [
      await insertEvent('MESSAGE_CREATE', server, 'want'),
      await insertEvent('MESSAGE_CREATE', null, 'other server'),
      await insertEvent('CHANNEL_CREATE', server, 'other type'),
      await insertEvent('MESSAGE_CREATE', server, 'want too'),
    ];
    const controller = new AbortController();
    const c = collector((all) => all.length >= 2);
    const loop = consumeEvents(db().orm, 'filtered-loop', c.handler, {
      listen: false,
      idleMs: 10,
      signal: controller.signal,
      types: ['MESSAGE_CREATE'],
      serverId: server,
    });
    expect((await c.finished).map((e) => e.id)).toEqual([ids[0], ids[3]]);
    controller.abort();
    await loop;
    expect(c.all.map((e) => e.id)).toEqual([ids[0], ids[3]]);
  });
});
