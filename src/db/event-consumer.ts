import type { MikroORM } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { ClientConfig } from 'pg';
import type { DomainEventType } from '../domain/events';
import { DomainEvent } from '../entities/events/DomainEvent';
import type { DeliveredEvent, DomainEventRepository } from '../entities/events/DomainEventRepository';
import { type EventListener, listenForEvents } from './event-listener';

export interface ConsumeContext {
  consumer: string;
  /** The EntityManager the batch is acknowledged on; inside the transaction when `transactional`. */
  em: EntityManager;
  signal: AbortSignal;
}

/** Handles one batch; what it returns is awaited (a promise is waited for) before the batch is acknowledged. */
export type EventBatchHandler = (events: DeliveredEvent[], context: ConsumeContext) => unknown;

export interface ConsumeOptions {
  /** Events per poll (1-10000). Default 100. */
  batchSize?: number;
  /** Longest wait between polls when idle, notification or not. Default 1000 ms. */
  idleMs?: number;
  /** Stops the loop: the current batch finishes (and is acknowledged), then consumeEvents resolves. */
  signal?: AbortSignal;
  /**
   * Wake on NOTIFY (default true, on a dedicated connection to the ORM's database; pass a pg client
   * config or URL to listen elsewhere). false: poll every `idleMs` alone.
   */
  listen?: boolean | string | ClientConfig;
  /** Only these types reach the handler (the cursor still moves past the others it polls over). */
  types?: DomainEventType[];
  serverId?: string;
  /** Where a consumer seen for the first time starts. Default 'beginning'. */
  from?: 'beginning' | 'latest';
  /**
   * Run the handler and the acknowledgement in one transaction, so database work the handler does
   * with `context.em` commits exactly when the cursor moves. Default false (handler, then ack).
   */
  transactional?: boolean;
}

export interface ConsumeResult {
  consumer: string;
  delivered: number;
  batches: number;
  /** The last id acknowledged by this run, or null when it acknowledged nothing. */
  lastId: string | null;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

function listenTarget(orm: MikroORM, listen: ConsumeOptions['listen']): string | ClientConfig | null {
  if (listen === false) return null;
  if (typeof listen === 'string' || (typeof listen === 'object' && listen !== null)) return listen;
  // LISTEN needs a session of its own on the server: behind pgbouncer's transaction pooling it would
  // never hear a NOTIFY, so a direct URL, when the operator gives one, wins.
  if (process.env.DATABASE_DIRECT_URL) return process.env.DATABASE_DIRECT_URL;
  const url = orm.config.get('clientUrl');
  if (url) return url;
  const { host, port, user, password, database } = orm.em.getConnection().getConnectionOptions();
  return { host, port, user, password: typeof password === 'string' ? password : undefined, database };
}

/**
 * Runs one named consumer of the outbox until `signal` aborts: poll a batch after the consumer's
 * cursor, hand it to `handler`, acknowledge its last id, repeat; when there is nothing to deliver,
 * wait for a NOTIFY (or `idleMs`) and poll again. Delivery is at least once and in commit-safe id
 * order: a batch whose handler throws is not acknowledged, the loop rejects with that error, and a
 * restarted consumer receives the batch again.
 *
 * NOTIFY only shortens waits. A commit can be announced while an older transaction still holds the
 * delivery horizon back; the loop then polls again with a short backoff instead of sleeping idleMs.
 */
export async function consumeEvents(
  orm: MikroORM,
  consumer: string,
  handler: EventBatchHandler,
  options: ConsumeOptions = {},
): Promise<ConsumeResult> {
  const batchSize = options.batchSize ?? 100;
  const idleMs = options.idleMs ?? 1000;
  if (!Number.isFinite(idleMs) || idleMs < 1) throw new RangeError('idleMs must be at least 1');
  const signal = options.signal ?? new AbortController().signal;
  const result: ConsumeResult = { consumer, delivered: 0, batches: 0, lastId: null };
  const repository = (em: EntityManager) => em.getRepository<DomainEvent, DomainEventRepository>(DomainEvent);

  await repository(orm.em.fork() as EntityManager).registerConsumer(consumer, { from: options.from ?? 'beginning' });
  const target = listenTarget(orm, options.listen);
  let listener: EventListener | undefined;
  const ensureListener = async () => {
    if (!target || (listener && listener.isAlive())) return;
    await listener?.close();
    // A listener that cannot connect is not fatal: the loop keeps polling every idleMs.
    listener = await listenForEvents(target).catch(() => undefined);
  };

  let backoffMs = 0; // > 0 while a notification has not yet turned into a delivery
  try {
    await ensureListener();
    while (!signal.aborted) {
      const em = orm.em.fork() as EntityManager;
      const events = await repository(em).poll(consumer, {
        limit: batchSize,
        types: options.types,
        serverId: options.serverId,
      });
      if (events.length > 0) {
        const lastId = events[events.length - 1].id;
        if (options.transactional) {
          await em.transactional(async (tx) => {
            await handler(events, { consumer, em: tx, signal });
            await repository(tx).ack(consumer, lastId);
          });
        } else {
          await handler(events, { consumer, em, signal });
          await repository(em).ack(consumer, lastId);
        }
        result.delivered += events.length;
        result.batches += 1;
        result.lastId = lastId;
        backoffMs = 0;
        continue; // a full or partial batch: there may be more right away
      }
      if (backoffMs > 0) {
        await sleep(backoffMs, signal);
        backoffMs = Math.min(backoffMs * 2, idleMs);
        if (backoffMs >= idleMs) backoffMs = 0;
        continue;
      }
      await ensureListener();
      if (listener) {
        // A notification means "poll now"; if that poll finds nothing, the announced commit is held
        // back by an older transaction, so poll again soon (5 ms, doubling up to idleMs).
        if ((await listener.wait(idleMs, signal)) === 'notified') backoffMs = Math.min(5, idleMs);
      } else {
        await sleep(idleMs, signal);
      }
    }
  } finally {
    await listener?.close();
  }
  return result;
}
