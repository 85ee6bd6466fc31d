import { describe, expect, it } from 'vitest';
import type { EntityManager } from '@mikro-orm/postgresql';
import { UnknownConsumer, ValidationFailed } from '../src/domain/errors';
import { DomainEvent } from '../src/entities/events/DomainEvent';
import type { DomainEventRepository } from '../src/entities/events/DomainEventRepository';
import { race, useTestDatabase } from './support/db';
import { deliverable, registerLatest } from './support/events';

const db = useTestDatabase({ poolSize: 12 });
const events = (em: EntityManager = db().fork()) => em.getRepository<DomainEvent, DomainEventRepository>(DomainEvent);

async function insertEvents(n: number, note: string): Promise<string[]> {
  const rows = await db().sql<{ id: string }>(
    `insert into "DomainEvent" ("type", "payload") select 'MESSAGE_CREATE', jsonb_build_object('note', $1::text, 'i', i)
      from generate_series(1, $2) i returning id::text as id`,
    [note, n],
  );
  const ids = rows.map((r) => r.id).sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
  await deliverable(db(), ids[ids.length - 1]);
  return ids;
}

/** Everything a consumer operation may write: the consumer rows (all columns) and the outbox size. */
async function state() {
  return {
    consumers: await db().sql(
      `select name, cursor::text, "deliveredUpTo"::text, "updatedAt" from "EventConsumer" order by name`,
    ),
    events: await db().sql(`select count(*)::int as n from "DomainEvent"`),
  };
}

async function refused(
  action: () => Promise<unknown>,
  error: abstract new (...args: never[]) => Error,
  details?: Record<string, unknown>,
) {
  const before = await state();
  const failure = await action().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(failure).toBeInstanceOf(error);
  if (details) expect(failure).toMatchObject(details);
  expect(await state()).toEqual(before);
  return failure;
}

describe('event consumers must be registered', () => {
  it('poll and ack with a name that was never registered raise UnknownConsumer (UNKNOWN_CONSUMER) and create nothing', async () => {
    await insertEvents(2, 'unregistered');
    const error = await refused(() => events().poll('never-registered'), UnknownConsumer, {
      code: 'UNKNOWN_CONSUMER',
      consumer: 'never-registered',
    });
    expect((error as UnknownConsumer).toJSON()).toMatchObject({
      code: 'UNKNOWN_CONSUMER',
      details: { consumer: 'never-registered' },
    });
    await refused(() => events().ack('never-registered', '1'), UnknownConsumer, { consumer: 'never-registered' });
    expect(await events().cursorOf('never-registered')).toBeNull();
  });

  it('a removed consumer is unknown again', async () => {
    await registerLatest(db(), 'short-lived');
    expect(await events().poll('short-lived')).toEqual([]);
    await events().removeConsumer('short-lived');
    await refused(() => events().poll('short-lived'), UnknownConsumer);
    await refused(() => events().ack('short-lived', '1'), UnknownConsumer);
  });
});

describe('ack moves the cursor only forward, and never past what poll delivered', () => {
  it('an ack past the last delivered id is refused with ValidationFailed and moves nothing', async () => {
    await registerLatest(db(), 'bounded');
    const ids = await insertEvents(4, 'bounded');
    const start = await events().cursorOf('bounded');
    // Nothing delivered yet: no ack may move the cursor, not even to an id that exists.
    await refused(() => events().ack('bounded', ids[0]), ValidationFailed, { field: 'lastId' });
    expect((await events().poll('bounded', { limit: 2 })).map((e) => e.id)).toEqual(ids.slice(0, 2));
    await refused(() => events().ack('bounded', ids[2]), ValidationFailed, {
      field: 'lastId',
      details: expect.objectContaining({ deliveredUpTo: ids[1] }),
    });
    await refused(() => events().ack('bounded', '9223372036854775807'), ValidationFailed, { field: 'lastId' });
    expect(await events().cursorOf('bounded')).toBe(start);

    await events().ack('bounded', ids[0]);
    expect(await events().cursorOf('bounded')).toBe(ids[0]);
    await events().ack('bounded', ids[1]);
    // Backwards is a no-op (a late ack of an older batch), never a rewind.
    await events().ack('bounded', ids[0]);
    expect(await events().cursorOf('bounded')).toBe(ids[1]);
    // The events after the cursor are still delivered: none was skipped.
    expect((await events().poll('bounded')).map((e) => e.id)).toEqual(ids.slice(2));
    await events().ack('bounded', ids[3]);
    expect(await events().cursorOf('bounded')).toBe(ids[3]);
  });

  it('a filtered poll delivers up to its last returned event, so the cursor moves past what the filter skipped up to there', async () => {
    await registerLatest(db(), 'filtered');
    const ids = await insertEvents(3, 'filtered');
    const skipped = await db().sql<{ id: string }>(
      `insert into "DomainEvent" ("type", "payload") values ('GUILD_UPDATE', '{}') returning id::text as id`,
    );
    const [last] = await insertEvents(1, 'filtered-last');
    expect((await events().poll('filtered', { types: ['MESSAGE_CREATE'] })).map((e) => e.id)).toEqual([...ids, last]);
    await events().ack('filtered', last);
    expect(await events().cursorOf('filtered')).toBe(last);
    expect(BigInt(last) > BigInt(skipped[0].id)).toBe(true);
  });

  it('the database refuses a cursor past deliveredUpTo whoever writes it (check constraint)', async () => {
    await registerLatest(db(), 'backstop');
    await expect(
      db().sql(`update "EventConsumer" set "cursor" = "deliveredUpTo" + 1 where name = 'backstop'`),
    ).rejects.toThrow(/event_consumer_cursor_delivered_check/);
  });

  it('race: 50 rounds of concurrent polls and acks (forked EntityManagers) never move a cursor back or past what was delivered', async () => {
    await registerLatest(db(), 'racer');
    for (let round = 0; round < 50; round++) {
      const ids = await insertEvents(6, `race ${round}`);
      const before = BigInt((await events().cursorOf('racer'))!);
      const outcomes = await race(db(), 10, async (em, i) => {
        if (i % 2 === 0)
          return { polled: (await events(em).poll('racer', { limit: 1 + (i % 3) })).map((e) => e.id), acked: null };
        const id = ids[(i * 7 + round) % ids.length];
        await events(em).ack('racer', id);
        return { polled: [] as string[], acked: id };
      });
      for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(ValidationFailed);
      const [row] = await db().sql<{ cursor: string; delivered: string }>(
        `select cursor::text, "deliveredUpTo"::text as delivered from "EventConsumer" where name = 'racer'`,
      );
      const polled = outcomes.flatMap((o) => (o.status === 'fulfilled' ? o.value.polled : []));
      const acked = outcomes.flatMap((o) =>
        o.status === 'fulfilled' && o.value.acked !== null ? [BigInt(o.value.acked)] : [],
      );
      const maxPolled = polled.reduce((m, id) => (BigInt(id) > m ? BigInt(id) : m), before);
      expect(BigInt(row.cursor) >= before).toBe(true);
      expect(BigInt(row.cursor) <= BigInt(row.delivered)).toBe(true);
      expect(BigInt(row.delivered)).toBe(maxPolled);
      // Every successful ack was of an id delivered by then; the cursor is the furthest of them.
      for (const id of acked) expect(id <= BigInt(row.delivered)).toBe(true);
      expect(BigInt(row.cursor)).toBe(acked.reduce((m, id) => (id > m ? id : m), before));
      // Catch up, so the next round starts from a delivered cursor.
      const rest = await events().poll('racer', { limit: 1000 });
      if (rest.length) await events().ack('racer', rest[rest.length - 1].id);
    }
  }, 120_000);
});
