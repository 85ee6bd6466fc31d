import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import type { EntityManager } from '@mikro-orm/postgresql';
import { createOrm, type CrybOrm } from '../../src/db/orm';

export interface TestDatabase {
  url: string;
  name: string;
  orm: CrybOrm;
  /** A fresh EntityManager: one unit of work. */
  fork(): EntityManager;
  /** A raw pg query, for checking invariants from the database itself. */
  sql<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** A database of its own for the calling test file, cloned from the migrated template. */
export async function createTestDatabase(options: { poolSize?: number } = {}): Promise<TestDatabase> {
  const adminUrl = inject('adminUrl');
  const template = inject('templateDatabase');
  const name = `cryb_t_${template.split('_').pop()}_${randomBytes(5).toString('hex')}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database "${name}" template "${template}"`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(adminUrl, name);
  const orm = await createOrm({ clientUrl: url, poolSize: options.poolSize ?? 10 });
  const raw = new Client({ connectionString: url });
  await raw.connect();
  return {
    url,
    name,
    orm,
    fork: () => orm.em.fork(),
    sql: async (text, params) => (await raw.query(text, params as unknown[])).rows,
    close: async () => {
      await raw.end();
      await orm.close(true);
      const drop = new Client({ connectionString: adminUrl });
      await drop.connect();
      await drop.query(`drop database if exists "${name}" with (force)`);
      await drop.end();
    },
  };
}

/** Registers a per-file database; the returned getter is valid inside tests. */
export function useTestDatabase(options: { poolSize?: number } = {}): () => TestDatabase {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase(options);
  });
  afterAll(async () => {
    await db?.close();
  });
  return () => {
    if (!db) throw new Error('the test database is not ready: call useTestDatabase() at the top of the file');
    return db;
  };
}

/**
 * Runs `n` operations at the same moment, each on its own forked EntityManager, so each holds its
 * own pooled connection (the pool is sized for it). Returns every outcome, fulfilled or rejected.
 */
export async function race<T>(db: TestDatabase, n: number, operation: (em: EntityManager, i: number) => Promise<T>): Promise<PromiseSettledResult<T>[]> {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const runs = Array.from({ length: n }, async (_, i) => {
    const em = db.fork();
    await gate;
    return operation(em, i);
  });
  release();
  return Promise.allSettled(runs);
}

export function fulfilled<T>(results: PromiseSettledResult<T>[]): T[] {
  return results.filter((r): r is PromiseFulfilledResult<T> => r.status === 'fulfilled').map((r) => r.value);
}

export function rejected<T>(results: PromiseSettledResult<T>[]): unknown[] {
  return results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason);
}
