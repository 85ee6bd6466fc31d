import { MikroORM } from '@mikro-orm/core';
import type { EntityManager, PostgreSqlDriver } from '@mikro-orm/postgresql';
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

/** Applies pending migrations; returns the names applied. */
export async function migrate(orm: CrybOrm): Promise<string[]> {
  const applied = await orm.getMigrator().up();
  return applied.map((m) => m.name);
}
