import type { EntityManager, Knex } from '@mikro-orm/postgresql';

/**
 * Runs one statement with bound parameters (knex turns `?` into `$n` and the pg driver sends the
 * values separately), unlike `em.execute`, which inlines them. Identifiers in `sql` come from ORM
 * metadata and constants only.
 */
export async function query<T = Record<string, unknown>>(
  em: EntityManager,
  sql: string,
  bindings: readonly Knex.RawBinding[] = [],
): Promise<T[]> {
  const result = await em.getKnex().raw<{ rows: T[] }>(sql, bindings);
  return result.rows;
}
