import { describe, expect, it } from 'vitest';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ValidationFailed } from '../src/domain/errors';
import { DomainEvent } from '../src/entities/events/DomainEvent';
import type { DomainEventRepository } from '../src/entities/events/DomainEventRepository';
import { useTestDatabase } from './support/db';
import { deliverable } from './support/events';

const db = useTestDatabase({ poolSize: 5 });

const events = (em: EntityManager = db().fork()) => em.getRepository<DomainEvent, DomainEventRepository>(DomainEvent);
const DAY = 24 * 3600 * 1000;

/** One committed event per call (its own transaction), created `ageMs` ago. */
async function insertEvent(note: string, ageMs = 0): Promise<string> {
  const rows = await db().sql<{ id: string }>(
    `insert into "DomainEvent" ("type", "payload", "createdAt") values ('MESSAGE_CREATE', $1,
      now() - ($2 * interval '1 millisecond')) returning id::text as id`,
    [JSON.stringify({ note }), ageMs],
  );
  return rows[0].id;
}

async function remaining(): Promise<string[]> {
  return (await db().sql<{ id: string }>(`select id::text as id from "DomainEvent" order by id`)).map((r) => r.id);
}

describe('retention', () => {
  it('prune deletes what every registered consumer acknowledged and what is older than maxAge, and nothing else', async () => {
    // No consumers yet: only age counts.
    const ancient = await insertEvent('ancient', 3 * DAY);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await insertEvent(`e${i}`));
    expect(await events().prune({ maxAgeMs: DAY })).toBe(1);
    expect(await remaining()).toEqual(ids);
    expect(ids).not.toContain(ancient);

    await events().registerConsumer('fast');
    await events().registerConsumer('slow');
    expect(await events().prune({ maxAgeMs: DAY })).toBe(0); // nobody acknowledged anything

    // A consumer acknowledges only what it was delivered.
    await deliverable(db(), ids[5]);
    await events().poll('fast');
    await events().poll('slow', { limit: 2 });
    await events().ack('fast', ids[4]);
    await events().ack('slow', ids[1]);
    expect(await events().prune({ maxAgeMs: DAY })).toBe(2); // ids[0..1]: acknowledged by both
    expect(await remaining()).toEqual(ids.slice(2));

    // An old event is deleted although "slow" has not read it; younger unread ones stay.
    const old = await insertEvent('old, unread', 2 * DAY);
    expect(await events().prune({ maxAgeMs: DAY })).toBe(1);
    expect(await remaining()).toEqual(ids.slice(2));
    expect(await remaining()).not.toContain(old);

    // The slowest consumer leaves: the fastest one's cursor now bounds retention.
    await events().removeConsumer('slow');
    expect(await events().prune({ maxAgeMs: DAY })).toBe(3); // ids[2..4]
    expect(await remaining()).toEqual([ids[5]]);
    // The remaining consumer still reads what it had not acknowledged.
    await deliverable(db(), ids[5]);
    expect((await events().poll('fast')).map((e) => e.id)).toEqual([ids[5]]);

    // maxAge 0 deletes everything older than now, read or not.
    expect(await events().prune({ maxAgeMs: 0 })).toBe(1);
    expect(await remaining()).toEqual([]);
  });

  it('a consumer registered from the beginning holds everything back until it acknowledges', async () => {
    await events().registerConsumer('late-joiner', { from: 'beginning' });
    const a = await insertEvent('a');
    const b = await insertEvent('b');
    await deliverable(db(), b);
    await events().poll('fast');
    await events().poll('late-joiner');
    await events().ack('fast', b); // "fast" (from the first test) is past both...
    expect(await events().prune({ maxAgeMs: DAY })).toBe(0); // ...but the late joiner is not
    await events().ack('late-joiner', a);
    expect(await events().prune({ maxAgeMs: DAY })).toBe(1);
    expect(await remaining()).toEqual([b]);
  });

  it('rejects nonsense', async () => {
    await expect(events().prune({ maxAgeMs: -1 })).rejects.toBeInstanceOf(ValidationFailed);
    await expect(events().prune({ maxAgeMs: Number.NaN })).rejects.toBeInstanceOf(ValidationFailed);
    await expect(events().ack('fast', 'not-an-id')).rejects.toBeInstanceOf(ValidationFailed);
  });
});
