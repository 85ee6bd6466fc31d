import type { Client } from 'pg';

/**
 * The large scenario's bulk mode: during the message load the big tables lose their secondary
 * indexes (rebuilt once at the end, far cheaper than maintaining a GIN index row by row) and
 * autovacuum (which otherwise vacuums the growing tables again and again between chunk commits).
 * The index definitions are kept in cryb_seed_run, so an interrupted run gets them back on
 * --resume (at its finish) or --reset (first thing). Primary keys and unique constraints stay:
 * they are what makes a duplicate impossible.
 */
export const BULK_TABLES = ['Message', 'Reaction', 'MessageAttachment', 'MessageEmbed', 'ReadState'];

export interface IndexDefinition {
  name: string;
  definition: string;
}

export async function secondaryIndexes(client: Client): Promise<IndexDefinition[]> {
  const { rows } = await client.query<IndexDefinition>(
    `select i.indexname as name, i.indexdef as definition from pg_indexes i
       join pg_class c on c.relname = i.indexname
       join pg_index x on x.indexrelid = c.oid
      where i.schemaname = current_schema() and i.tablename = any($1) and not x.indisunique and not x.indisprimary`,
    [BULK_TABLES],
  );
  return rows;
}

export async function enterBulkMode(client: Client, indexes: readonly IndexDefinition[]): Promise<void> {
  for (const table of BULK_TABLES) await client.query(`alter table "${table}" set (autovacuum_enabled = false)`);
  for (const index of indexes) await client.query(`drop index if exists "${index.name}"`);
}

/** Puts back whatever is missing (idempotent: safe after a crash at any point). */
export async function leaveBulkMode(
  client: Client,
  indexes: readonly IndexDefinition[],
  onIndex: (name: string) => void = () => undefined,
): Promise<void> {
  for (const index of indexes) {
    const { rows } = await client.query<{ present: boolean }>(`select to_regclass($1) is not null as present`, [
      `"${index.name}"`,
    ]);
    if (rows[0].present) continue;
    onIndex(index.name);
    await client.query(index.definition);
  }
  for (const table of BULK_TABLES) await client.query(`alter table "${table}" reset (autovacuum_enabled)`);
}
