import { MikroORM } from '@mikro-orm/core';
import type { EntityManager, PostgreSqlDriver } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { crybConfig, type CrybOrmOptions, resolveDatabaseUrl } from './config';

export type CrybOrm = MikroORM<PostgreSqlDriver, EntityManager>;

/**
 * Opens the ORM on DATABASE_URL (or `clientUrl`), falling back to the embedded server. Services
 * create one per process and `orm.em.fork()` per request.
 */
export async function createOrm(options: CrybOrmOptions = {}): Promise<CrybOrm> {
  const clientUrl = options.clientUrl ?? (await resolveDatabaseUrl());
  return (await MikroORM.init(crybConfig({ migrationSnapshot: false, ...options, clientUrl }))) as CrybOrm;
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
  const lock = new Client(url ? { connectionString: url } : { host, port, user, password: typeof password === 'string' ? password : undefined, database });
  // A lost lock connection surfaces at commit; as an 'error' event it would crash the process.
  lock.on('error', () => undefined);
  await lock.connect();
  try {
    await lock.query('begin');
    // Server-wide timeouts (an idle-in-transaction limit above all) must not end the lock mid-migration.
    await lock.query(`set local lock_timeout = 0; set local statement_timeout = 0; set local idle_in_transaction_session_timeout = 0`);
    await lock.query('select pg_advisory_xact_lock(hashtextextended($1, 0))', [MIGRATION_LOCK_KEY]);
    const applied = await orm.getMigrator().up();
    await lock.query('commit');
    return applied.map((m) => m.name);
  } finally {
    await lock.end().catch(() => undefined);
  }
}
