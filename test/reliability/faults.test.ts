/**
 * Fault injection: a connection killed mid-flush, a statement timeout, deadlocks. After each, the
 * caller gets a typed error, nothing is half-written, and the next operation on a fresh fork works.
 */
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConcurrencyConflict, DatabaseUnavailable, OperationTimedOut } from '../../src/domain/errors';
import { transact } from '../../src/db/unit-of-work';
import { User } from '../../src/entities/user/User';
import { useTestDatabase } from '../support/db';
import { messagingHelpers } from '../support/messaging';

const db = useTestDatabase({ poolSize: 10 });
const h = messagingHelpers(db);

/** A second connection that holds locks and kills backends, as an operator or a crash would. */
let saboteur: Client;
beforeAll(async () => {
  saboteur = new Client({ connectionString: db().url });
  await saboteur.connect();
});
afterAll(async () => {
  await saboteur?.end();
});

/** Waits until some backend of this database waits on a lock, and returns its pid. */
async function blockedBackend(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const { rows } = await saboteur.query<{ pid: number }>(
      `select pid from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'
        and pid <> pg_backend_pid() limit 1`,
    );
    if (rows[0]) return rows[0].pid;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('no backend ever blocked');
}

describe('a connection killed mid-flush', () => {
  it('leaves none of a 2,000-user unit of work, reports DatabaseUnavailable, and the next unit of work succeeds', async () => {
    const usersBefore = Number((await db().sql<{ n: string }>('select count(*) as n from "User"'))[0].n);
    // Block the flush partway: an uncommitted row holding the last user's unique username key.
    await saboteur.query('begin');
    await saboteur.query(`insert into "User" (id, username, discriminator) values (1, 'zz-last', '0001')`);
    const flushing = transact(db().fork(), async (tx) => {
      for (let i = 0; i < 1999; i++) tx.persist(new User({ username: `bulk${i}`, discriminator: '0001' }));
      tx.persist(new User({ username: 'zz-last', discriminator: '0001' }));
    }).then(
      () => undefined,
      (error: unknown) => error,
    );
    const pid = await blockedBackend();
    await saboteur.query('select pg_terminate_backend($1)', [pid]);
    await saboteur.query('rollback');
    expect(await flushing).toBeInstanceOf(DatabaseUnavailable);
    const usersAfter = Number((await db().sql<{ n: string }>('select count(*) as n from "User"'))[0].n);
    expect(usersAfter).toBe(usersBefore);
    const next = await h.register('survivor');
    expect(next.id).toBeTruthy();
  });

  it('loses no message when a send is killed while waiting for the channel row', async () => {
    const w = await h.world();
    const bob = await h.joined(w, 'bob');
    const before = await h.counts();
    await saboteur.query('begin');
    await saboteur.query('select 1 from "Channel" where id = $1 for update', [w.textId]);
    const sending = h
      .messages()
      .send(bob, w.textId, 'doomed')
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    await saboteur.query('select pg_terminate_backend($1)', [await blockedBackend()]);
    await saboteur.query('rollback');
    expect(await sending).toBeInstanceOf(DatabaseUnavailable);
    expect(await h.counts()).toEqual(before);
    await expect(h.messages().send(bob, w.textId, 'again')).resolves.toMatchObject({ content: 'again' });
  });
});

describe('a statement timeout', () => {
  it('fires as OperationTimedOut, writes nothing, and the next send succeeds', async () => {
    const w = await h.world();
    const bob = await h.joined(w, 'bob');
    const before = await h.counts();
    await saboteur.query('begin');
    await saboteur.query('select 1 from "Channel" where id = $1 for update', [w.textId]);
    // The send joins a unit of work whose statements may take at most 300 ms.
    const failure = await transact(db().fork(), async (tx) => {
      await tx.execute('set local statement_timeout = 300');
      return h.messages(tx).send(bob, w.textId, 'too slow');
    }).then(
      () => undefined,
      (error: unknown) => error,
    );
    await saboteur.query('rollback');
    expect(failure).toBeInstanceOf(OperationTimedOut);
    expect(await h.counts()).toEqual(before);
    await expect(h.messages().send(bob, w.textId, 'in time')).resolves.toMatchObject({ content: 'in time' });
  });
});

describe('deadlocks', () => {
  it('are retried with backoff by transact, boundedly, and both sides commit', async () => {
    const a = await h.register('a');
    const b = await h.register('b');
    const attempts = [0, 0];
    let arrived = 0;
    let release!: () => void;
    const bothLocked = new Promise<void>((resolve) => (release = resolve));
    // Each side locks one user row, waits for the other (first attempt only), then wants the other's row.
    const side = (i: number, first: string, second: string) =>
      transact(db().fork(), async (tx) => {
        attempts[i]++;
        await tx.execute('select 1 from "User" where id = ? for update', [first]);
        if (attempts[i] === 1) {
          if (++arrived === 2) release();
          await bothLocked;
        }
        await tx.execute('select 1 from "User" where id = ? for update', [second]);
        await tx.execute(`update "User" set "displayName" = ? where id = ?`, [`by ${i}`, second]);
      });
    await Promise.all([side(0, a.id, b.id), side(1, b.id, a.id)]);
    // PostgreSQL broke the deadlock by failing one side; transact ran that side again.
    expect(attempts[0] + attempts[1]).toBe(3);
  });

  it('give up as ConcurrencyConflict after the bounded retries', async () => {
    let attempts = 0;
    const failure = await transact(
      db().fork(),
      async (tx) => {
        attempts++;
        await tx.execute(`do $$ begin raise exception 'forced' using errcode = '40P01'; end $$`);
      },
      { retries: 2 },
    ).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(ConcurrencyConflict);
    expect((failure as ConcurrencyConflict).retryable).toBe(true);
    expect(attempts).toBe(3);
  });
});
