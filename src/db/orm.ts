import { readdirSync } from 'node:fs';
import { MikroORM } from '@mikro-orm/core';
import type { EntityManager, PostgreSqlDriver } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { MigrationsPending } from '../domain/errors';
import { crybConfig, type CrybOrmOptions, resolveDatabaseUrl } from './config';
import { connectTimeoutMs, probeConnection, usableUrl } from './connection-check';

export type CrybOrm = MikroORM<PostgreSqlDriver, EntityManager>;

/**
 * Opens the ORM on `clientUrl`, else DATABASE_URL; the embedded server only when asked for
 * (`embedded: true` or CRYB_EMBEDDED=1), else DatabaseNotConfigured. A server that cannot be
 * reached, a wrong role, password or database name, or a malformed URL throw DatabaseUnavailable
 * with one line saying which; a database behind the package's migrations throws MigrationsPending
 * (see `migrations`). Services create one per process and `orm.em.fork()` per request.
 */
export async function createOrm(options: CrybOrmOptions = {}): Promise<CrybOrm> {
  const clientUrl = options.clientUrl ?? (await resolveDatabaseUrl(options.logger, { embedded: options.embedded }));
  await probeConnection(usableUrl(clientUrl), options.connectTimeoutMs ?? connectTimeoutMs());
  const orm = (await MikroORM.init(crybConfig({ migrationSnapshot: false, ...options, clientUrl }))) as CrybOrm;
  try {
    const mode = options.migrations ?? 'check';
    if (mode === 'apply') await migrate(orm);
    else if (mode === 'check') {
      const pending = await pendingMigrations(orm);
      if (pending.length > 0) throw new MigrationsPending(databaseName(clientUrl), pending);
    }
  } catch (error) {
    await orm.close(true);
    throw error;
  }
  return orm;
}

function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1)) || '(default)';
}

/**
 * The package's migrations the database has not applied, by name. A query and a directory listing:
 * cheap enough for every createOrm, and it writes nothing (the migrator would create its table).
 */
export async function pendingMigrations(orm: CrybOrm): Promise<string[]> {
  const { path, pathTs, tableName } = orm.config.get('migrations');
  const known = readdirSync((orm.config.get('preferTs') ? (pathTs ?? path) : path)!)
    .filter((file) => /^Migration.*\.(js|ts)$/.test(file) && !file.endsWith('.d.ts'))
    .map((file) => file.replace(/\.(js|ts)$/, ''));
  const exists = await orm.em
    .getConnection()
    .execute<{ t: string | null }[]>(`select to_regclass(?) as t`, [tableName!]);
  if (!exists[0]?.t) return known.sort();
  const applied = new Set(
    (await orm.em.getConnection().execute<{ name: string }[]>(`select name from "${tableName}"`)).map((row) =>
      row.name.replace(/\.(js|ts)$/, ''),
    ),
  );
  return known.filter((name) => !applied.has(name)).sort();
}

export interface MigrationStatus {
  database: string;
  applied: { name: string; executedAt: Date }[];
  pending: string[];
}

/** Which of the package's migrations the database has applied (and when), and which are pending. */
export async function migrationStatus(orm: CrybOrm): Promise<MigrationStatus> {
  const table = orm.config.get('migrations').tableName!;
  const connection = orm.em.getConnection();
  const [exists] = await connection.execute<{ t: string | null }[]>('select to_regclass(?) as t', [table]);
  const applied = exists?.t
    ? await connection.execute<{ name: string; executed_at: Date }[]>(
        `select name, executed_at from "${table}" order by id`,
      )
    : [];
  return {
    database: databaseName(orm.config.get('clientUrl')),
    applied: applied.map((row) => ({ name: row.name, executedAt: new Date(row.executed_at) })),
    pending: await pendingMigrations(orm),
  };
}

export function formatMigrationStatus(status: MigrationStatus, fix = 'npx cryb-db migrate'): string[] {
  return [
    `database ${status.database}: ${status.applied.length} applied, ${status.pending.length} pending`,
    ...status.applied.map((m) => `  applied  ${m.executedAt.toISOString()}  ${m.name}`),
    ...status.pending.map((name) => `  pending  ${' '.repeat(24)}  ${name}`),
    ...(status.pending.length ? [`apply them with: ${fix}`] : []),
  ];
}

/** The advisory lock key every instance of the package takes around applying migrations. */
export const MIGRATION_LOCK_KEY = 'cryb:migrations';

/**
 * Applies pending migrations; returns the names applied. Service instances starting at the same
 * moment each call this: the first applies the migrations, the others wait on an advisory lock and
 * then find nothing pending. The lock is transaction-scoped on a connection of its own, held open
 * while the migrator works on the pool, so it also holds through pgbouncer in transaction mode
 * (a session lock there could be released on another server connection, or never).
 */
export async function migrate(orm: CrybOrm): Promise<string[]> {
  const { host, port, user, password, database } = orm.em.getConnection('write').getConnectionOptions();
  const url = orm.config.get('clientUrl');
  const timeout = { connectionTimeoutMillis: connectTimeoutMs() };
  const lock = new Client(
    url
      ? { connectionString: url, ...timeout }
      : { host, port, user, password: typeof password === 'string' ? password : undefined, database, ...timeout },
  );
  // A lost lock connection surfaces at commit; as an 'error' event it would crash the process.
  lock.on('error', () => undefined);
  await lock.connect();
  try {
    await lock.query('begin');
    // Server-wide timeouts (an idle-in-transaction limit above all) must not end the lock mid-migration.
    await lock.query(
      `set local lock_timeout = 0; set local statement_timeout = 0; set local idle_in_transaction_session_timeout = 0`,
    );
    await lock.query('select pg_advisory_xact_lock(hashtextextended($1, 0))', [MIGRATION_LOCK_KEY]);
    const applied = await orm.getMigrator().up();
    await lock.query('commit');
    return applied.map((m) => m.name);
  } finally {
    await lock.end().catch(() => undefined);
  }
}
