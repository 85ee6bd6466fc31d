import { Client } from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { EntityManager } from '@mikro-orm/postgresql';
import { commit } from '../src/db/unit-of-work';
import { DomainEvent } from '../src/entities/events/DomainEvent';
import type { DeliveredEvent, DomainEventRepository } from '../src/entities/events/DomainEventRepository';
import { User } from '../src/entities/user/User';
import { useTestDatabase } from './support/db';
import { deliverable, registerLatest } from './support/events';
import { UserService } from '../src/identity/user-service';

const db = useTestDatabase({ poolSize: 10 });

const events = (em: EntityManager = db().fork()) => em.getRepository<DomainEvent, DomainEventRepository>(DomainEvent);

const clients: Client[] = [];
async function rawClient(): Promise<Client> {
  const client = new Client({ connectionString: db().url });
  await client.connect();
  clients.push(client);
  return client;
}
afterEach(async () => {
  for (const client of clients.splice(0)) await client.end().catch(() => undefined);
});

let seq = 0;
const newUser = () => new UserService(db().fork()).register({ username: `order${++seq}` });

async function changeBio(userId: string, bio: string): Promise<string> {
  const em = db().fork();
  const user = await em.findOneOrFail(User, userId);
  user.updateProfile({ bio });
  await commit(em);
  return idOfBio(bio);
}

async function idOfBio(bio: string): Promise<string> {
  const rows = await db().sql<{ id: string }>(
    `select id::text as id from "DomainEvent" where payload->'user'->>'bio' = $1`,
    [bio],
  );
  expect(rows).toHaveLength(1);
  return rows[0].id;
}

/** A consumer as a service runs it: poll, remember, ack; asserting ids only ever grow. */
class RecordingConsumer {
  readonly delivered: DeliveredEvent[] = [];
  constructor(readonly name: string) {}

  async pollOnce(limit = 100): Promise<string[]> {
    const repo = events();
    const batch = await repo.poll(this.name, { limit });
    for (const event of batch) {
      const previous = this.delivered.at(-1);
      if (previous) expect(BigInt(event.id) > BigInt(previous.id), `${event.id} after ${previous.id}`).toBe(true);
      this.delivered.push(event);
    }
    if (batch.length) await repo.ack(this.name, batch[batch.length - 1].id);
    return batch.map((e) => e.id);
  }

  /** Polls until `count` more events arrived (other files' transactions may hold the horizon a moment). */
  async pollUntil(count: number): Promise<string[]> {
    const got: string[] = [];
    for (const deadline = Date.now() + 30_000; got.length < count && Date.now() < deadline;) {
      const batch = await this.pollOnce();
      got.push(...batch);
      if (batch.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return got;
  }

  ids(): string[] {
    return this.delivered.map((e) => e.id);
  }
}

describe('commit-safe delivery order', () => {
  it('a long transaction holding an earlier id: the later commit waits, and nothing is skipped once the long one commits', async () => {
    const user = await newUser();
    const consumer = new RecordingConsumer('order-raw');
    await registerLatest(db(), consumer.name);

    // The long transaction inserts its event first, so its id is the smaller one, and holds.
    const long = await rawClient();
    await long.query('begin');
    const [{ id: earlyId }] = (
      await long.query<{ id: string }>(
        `insert into "DomainEvent" ("type", "payload", "userIds", "createdAt") values ('USER_UPDATE',
          '{"user":{"bio":"early"}}', array[$1::bigint], now()) returning id::text as id`,
        [user.id],
      )
    ).rows;

    // Meanwhile a second transaction commits a later event.
    const lateId = await changeBio(user.id, 'late');
    expect(BigInt(lateId) > BigInt(earlyId)).toBe(true);

    // The trap is real: a plain "id > cursor" reader sees the later id now and would move past the earlier one.
    const naive = await db().sql<{ id: string }>(`select id::text as id from "DomainEvent" order by id`);
    expect(naive.map((r) => r.id)).toContain(lateId);
    expect(naive.map((r) => r.id)).not.toContain(earlyId);

    // The consumer does not receive the later event yet, however often it polls.
    for (let i = 0; i < 3; i++) expect(await consumer.pollOnce()).toEqual([]);

    await long.query('commit');
    expect(await consumer.pollUntil(2)).toEqual([earlyId, lateId]);
    expect(await consumer.pollOnce()).toEqual([]);
    expect(await events().cursorOf(consumer.name)).toBe(lateId);
  });

  it('the same through the ORM: a domain change flushed in an open em.transactional holds back a later commit', async () => {
    const alice = await newUser();
    const bob = await newUser();
    const consumer = new RecordingConsumer('order-orm');
    await registerLatest(db(), consumer.name);

    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let flushed!: () => void;
    const hasFlushed = new Promise<void>((resolve) => (flushed = resolve));
    const longOne = db()
      .fork()
      .transactional(async (tx) => {
        const a = await tx.findOneOrFail(User, alice.id);
        a.updateProfile({ bio: 'alice, long transaction' });
        await tx.flush();
        flushed();
        await held;
      });
    await hasFlushed;
    const bobsId = await changeBio(bob.id, 'bob, short transaction');
    expect(await consumer.pollOnce()).toEqual([]);

    release();
    await longOne;
    const alicesId = await idOfBio('alice, long transaction');
    expect(BigInt(alicesId) < BigInt(bobsId)).toBe(true);
    expect(await consumer.pollUntil(2)).toEqual([alicesId, bobsId]);
  });

  it('a transaction that took its id early but inserts its event after a later commit is still not skipped', async () => {
    const alice = await newUser();
    const bob = await newUser();
    const consumer = new RecordingConsumer('order-late-insert');
    await registerLatest(db(), consumer.name);

    const long = await rawClient();
    await long.query('begin');
    await long.query(
      `update "User" set "pronouns" = 'they/them'
      where id = $1`,
      [alice.id],
    ); // takes a transaction id now

    const bobsId = await changeBio(bob.id, 'bob commits first');
    expect(await consumer.pollOnce()).toEqual([]);

    // Only now does the long transaction write its event, after the later one committed and was polled for.
    const [{ id: alicesId }] = (
      await long.query<{ id: string }>(
        `insert into "DomainEvent" ("type", "payload", "userIds", "createdAt") values ('USER_UPDATE',
          '{"user":{"bio":"alice"}}', array[$1::bigint], now()) returning id::text as id`,
        [alice.id],
      )
    ).rows;
    expect(BigInt(alicesId) < BigInt(bobsId)).toBe(true);
    expect(await consumer.pollOnce()).toEqual([]);
    await long.query('commit');
    expect(await consumer.pollUntil(2)).toEqual([alicesId, bobsId]);
  });

  it('a held-back event is delivered once the blocking transaction ends, even when it rolls back or wrote no event', async () => {
    const alice = await newUser();
    const carol = await newUser();
    const consumer = new RecordingConsumer('order-rollback');
    await registerLatest(db(), consumer.name);

    const rolledBack = await rawClient();
    await rolledBack.query('begin');
    await rolledBack.query(
      `insert into "DomainEvent" ("type", "payload", "createdAt") values ('USER_UPDATE', '{"user":{"bio":"never"}}',
        now())`,
    );
    const noEvents = await rawClient();
    await noEvents.query('begin');
    await noEvents.query(`update "User" set "pronouns" = 'she/her' where id = $1`, [carol.id]);

    const laterId = await changeBio(alice.id, 'later');
    expect(await consumer.pollOnce()).toEqual([]);
    await rolledBack.query('rollback');
    expect(await consumer.pollOnce()).toEqual([]); // the transaction without events still holds the horizon
    await noEvents.query('commit');
    expect(await consumer.pollUntil(1)).toEqual([laterId]);
    expect(consumer.ids()).toEqual([laterId]);
    const never = await db().sql(`select 1 from "DomainEvent" where payload->'user'->>'bio' = 'never'`);
    expect(never).toEqual([]);
  });

  it('consumers are independent and resume from their acknowledged cursor after a restart', async () => {
    const alice = await newUser();
    await registerLatest(db(), 'resume-a');
    await registerLatest(db(), 'resume-b');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await changeBio(alice.id, `resume ${i}`));
    await deliverable(db(), ids[4]);

    const firstTwo = await events().poll('resume-a', { limit: 2 });
    expect(firstTwo.map((e) => e.id)).toEqual(ids.slice(0, 2));
    await events().ack('resume-a', firstTwo[1].id);
    // A batch polled but not acknowledged (a crash mid-batch) is delivered again: at least once.
    expect((await events().poll('resume-a', { limit: 2 })).map((e) => e.id)).toEqual(ids.slice(2, 4));

    // "Restart": a new EntityManager, no memory of the above; the cursor lives in the database.
    const resumed = await events(db().fork()).poll('resume-a', { limit: 100 });
    expect(resumed.map((e) => e.id)).toEqual(ids.slice(2));
    // resume-b never acknowledged anything and sees all five.
    expect((await events().poll('resume-b', { limit: 100 })).map((e) => e.id)).toEqual(ids);
    // Acks never move a cursor backwards.
    await events().ack('resume-a', ids[4]);
    await events().ack('resume-a', ids[0]);
    expect(await events().cursorOf('resume-a')).toBe(ids[4]);
  });
});
