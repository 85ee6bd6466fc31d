import { wrap, type IsolationLevel, type MikroORM } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { DomainError } from '../domain/errors';
import { translateDatabaseError } from './errors';

export interface TransactOptions {
  /** Extra attempts after a deadlock or serialization failure (only at the outermost transaction). */
  retries?: number;
  isolationLevel?: IsolationLevel;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs one business operation in a transaction and flushes it once. Database errors leave as
 * domain errors; deadlocks and serialization failures are retried with jittered backoff, a bounded
 * number of times, because a lost race is not the caller's fault.
 */
export async function transact<T>(
  em: EntityManager,
  work: (tx: EntityManager) => Promise<T>,
  options: TransactOptions = {},
): Promise<T> {
  const nested = em.isInTransaction();
  const maxAttempts = nested ? 1 : (options.retries ?? 4) + 1;
  for (let attempt = 1; ; attempt++) {
    try {
      return await em.transactional(work, options.isolationLevel ? { isolationLevel: options.isolationLevel } : {});
    } catch (error) {
      const translated = translateDatabaseError(error);
      const retry =
        translated instanceof DomainError && translated.code === 'CONCURRENCY_CONFLICT' && attempt < maxAttempts;
      if (!retry) throw translated;
      await sleep(Math.random() * 10 * 2 ** attempt);
    }
  }
}

/** A fresh fork for one unit of work: what a service does per request. */
export async function unitOfWork<T>(
  orm: MikroORM,
  work: (em: EntityManager) => Promise<T>,
  options: TransactOptions = {},
): Promise<T> {
  return transact(orm.em.fork() as EntityManager, work, options);
}

/** Flushes with the same error translation as every domain operation. */
export async function commit(em: EntityManager): Promise<void> {
  try {
    await em.flush();
  } catch (error) {
    throw translateDatabaseError(error);
  }
}

/** The EntityManager that manages an entity; domain methods that need a query run through it. */
export function entityManagerOf(entity: object): EntityManager {
  const em = wrap(entity, true).__em as EntityManager | undefined;
  if (!em) {
    throw new TypeError(
      `${entity.constructor.name} is not managed by an EntityManager: load it or persist it before calling this method`,
    );
  }
  return em;
}

/**
 * Transaction-scoped advisory locks, taken in a stable order so two operations on overlapping keys
 * never deadlock. They serialise check-then-act rules that no single row can carry. `shared` locks
 * admit each other and wait only for exclusive holders of the same key (a DM send against a block).
 */
export async function lockKeys(
  tx: EntityManager,
  keys: string[],
  mode: 'exclusive' | 'shared' = 'exclusive',
): Promise<void> {
  const lock = mode === 'shared' ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock';
  const sorted = [...new Set(keys)].sort();
  if (sorted.length === 0) return;
  if (sorted.length === 1) {
    await tx.execute(`select ${lock}(hashtextextended(?, 0))`, sorted);
    return;
  }
  // One round trip: unnest yields the sorted keys in order, and each row takes its lock in that order.
  await tx.execute(
    `select ${lock}(hashtextextended(k.key, 0)) from unnest(array[?]::text[]) with ordinality as k(key, n)
      order by k.n`,
    [sorted],
  );
}
