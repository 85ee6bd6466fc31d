import { describe, expect, it } from 'vitest';
import { consumeEvents } from '../src/db/event-consumer';
import { transact } from '../src/db/unit-of-work';
import { DomainEvent } from '../src/entities/events/DomainEvent';
import type { DomainEventRepository } from '../src/entities/events/DomainEventRepository';
import { User } from '../src/entities/user/User';
import { useTestDatabase } from './support/db';
import { UserService } from '../src/identity/user-service';

const db = useTestDatabase({ poolSize: 40 });

const WRITERS = 20;
const TOTAL = 10_000;

class RolledBack extends Error {}

/** A deterministic pseudo-random sequence, so a failure can be replayed. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

interface Seen {
  ids: string[];
  bios: Set<string>;
  outOfOrder: string[];
}

function newSeen(): Seen {
  return { ids: [], bios: new Set(), outOfOrder: [] };
}

function see(seen: Seen, id: string, bio: string) {
  const last = seen.ids.at(-1);
  if (last !== undefined && !(BigInt(id) > BigInt(last))) seen.outOfOrder.push(`${id} after ${last}`);
  seen.ids.push(id);
  seen.bios.add(bio);
}

describe('outbox under load', () => {
  it(
    '20 writers and 3 consumers at once, 10,000 committed events: every consumer sees every one, none lost, ids strictly increasing',
    { timeout: 300_000 },
    async () => {
      const users = await Promise.all(
        Array.from({ length: WRITERS }, (_, i) => new UserService(db().fork()).register({ username: `writer${i}` })),
      );
      const names = ['stress-listen', 'stress-poll-only', 'stress-manual'];
      for (const name of names)
        await db().fork().getRepository<DomainEvent, DomainEventRepository>(DomainEvent).registerConsumer(name);

      const committed = new Set<string>();
      const rolledBack = new Set<string>();
      let budget = TOTAL;
      let writersDone = false;
      const seen = names.map(() => newSeen());
      const controllers = names.map(() => new AbortController());
      const allSeen = (i: number) => writersDone && [...committed].every((bio) => seen[i].bios.has(bio));

      const handlerFor = (i: number) => (batch: { id: string; payload: Record<string, unknown> }[]) => {
        // The writers make USER_UPDATEs only.
        for (const event of batch) see(seen[i], event.id, (event.payload as { user: { bio: string } }).user.bio);
      };

      // Consumer 0: the loop helper, woken by NOTIFY. Consumer 1: the same, without LISTEN (polling only).
      const loops = [
        consumeEvents(db().orm, names[0], handlerFor(0), {
          batchSize: 250,
          idleMs: 200,
          signal: controllers[0].signal,
        }),
        consumeEvents(db().orm, names[1], handlerFor(1), {
          batchSize: 97,
          idleMs: 25,
          signal: controllers[1].signal,
          listen: false,
        }),
      ];
      // Consumer 2: a hand-written poll/ack loop with varying batch sizes.
      const manual = (async () => {
        const next = rng(7);
        while (!controllers[2].signal.aborted) {
          const em = db().fork();
          const repo = em.getRepository<DomainEvent, DomainEventRepository>(DomainEvent);
          const batch = await repo.poll(names[2], { limit: 1 + next(300) });
          handlerFor(2)(batch);
          if (batch.length) await repo.ack(names[2], batch[batch.length - 1].id);
          else await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })();
      // Each consumer stops once it has seen everything the writers committed.
      const watchers = names.map(async (_, i) => {
        while (!allSeen(i)) await new Promise((resolve) => setTimeout(resolve, 20));
        controllers[i].abort();
      });

      const writers = users.map(async (user, w) => {
        const next = rng(1000 + w);
        for (let t = 0; budget > 0; t++) {
          const rollback = next(10) === 0; // about one transaction in ten rolls back after flushing
          const size = Math.min(1 + next(8), rollback ? 8 : budget);
          if (!rollback) budget -= size; // claimed before the await, so the total is exact
          const bios = Array.from({ length: size }, (_, e) => `w${w}-t${t}-e${e}`);
          try {
            await transact(db().fork(), async (tx) => {
              const loaded = await tx.findOneOrFail(User, user.id);
              for (const bio of bios) loaded.updateProfile({ bio });
              if (rollback) {
                await tx.flush();
                throw new RolledBack();
              }
            });
            for (const bio of bios) committed.add(bio);
          } catch (error) {
            if (!(error instanceof RolledBack)) throw error;
            for (const bio of bios) rolledBack.add(bio);
          }
        }
      });
      await Promise.all(writers);
      writersDone = true;
      expect(committed.size).toBe(TOTAL);
      expect(rolledBack.size).toBeGreaterThan(0);

      await Promise.all(watchers);
      const results = await Promise.all(loops);
      await manual;

      const table = await db().sql<{ n: number }>(`select count(*)::int as n from "DomainEvent"`);
      expect(table[0].n).toBe(TOTAL); // the table holds exactly the committed events
      for (const [i, s] of seen.entries()) {
        expect(s.outOfOrder, names[i]).toEqual([]);
        expect(
          [...committed].filter((bio) => !s.bios.has(bio)),
          `${names[i]} lost events`,
        ).toEqual([]);
        expect(
          [...s.bios].filter((bio) => rolledBack.has(bio)),
          `${names[i]} saw rolled-back events`,
        ).toEqual([]);
        expect(new Set(s.ids).size).toBe(TOTAL);
      }
      expect(results.map((r) => r.delivered)).toEqual([TOTAL, TOTAL]);
    },
  );
});
