/**
 * npm run lint:migrations: squawk (a PostgreSQL migration linter) over the SQL that each migration in
 * src/migrations emits. Message, Reaction and ReadState reach millions of rows, where a statement that
 * takes a long lock is an outage; the house rules are in docs/operations.md#writing-a-migration.
 *
 * Each migration's `up()` runs against an offline driver (no connection: the generated and hand-written
 * migrations only collect SQL with `addSql`), its statements go to a .sql file under temp/, and squawk
 * checks the file with the rules of .squawk.toml. A transactional migration's statements are wrapped
 * in BEGIN and COMMIT, as MikroORM runs them. Migrations written before this lint are baselined: they
 * are checked and their findings counted, but they do not fail the run. Exit 0 when every new migration
 * passes, 1 otherwise.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Configuration } from '@mikro-orm/core';
import type { AbstractSqlDriver } from '@mikro-orm/knex';
import type { Migration } from '@mikro-orm/migrations';
import { crybConfig } from '../src/db/config';

const ROOT = resolve(__dirname, '..');
// The platform package's binary itself: squawk-cli's wrapper would pull every platform's package,
// and the registry this project installs from serves only linux-x64's.
const SQUAWK = join(ROOT, 'node_modules', '@squawk-cli', 'linux-x64', 'bin', 'squawk');
const CONFIG = join(ROOT, '.squawk.toml');

/** Applied in production before the lint existed; reviewed by hand then, never edited since. */
export const BASELINE = new Set([
  'Migration20261126042548',
  'Migration20261126042600_OutboxNotify',
  'Migration20261126045954_Servers',
  'Migration20261126053357_Voice',
  'Migration20261126063855_Messaging',
  'Migration20261126064610_Analytics',
  'Migration20261126064700_Timescale',
]);

type MigrationClass = new (driver: AbstractSqlDriver, config: Configuration) => Migration;

export interface MigrationLint {
  name: string;
  transactional: boolean;
  baselined: boolean;
  passed: boolean;
  /** squawk's report (empty when it found nothing). */
  report: string;
}

/** The SQL `up()` emits, one statement per entry, and whether MikroORM wraps it in a transaction. */
export async function migrationSql(migrationClass: MigrationClass): Promise<{ sql: string; transactional: boolean }> {
  const config = new Configuration(crybConfig({ clientUrl: 'postgresql://offline@127.0.0.1:1/offline' }), false);
  const migration = new migrationClass(config.getDriver() as AbstractSqlDriver, config);
  await migration.up();
  const statements = migration
    .getQueries()
    .map((query) => (typeof query === 'string' ? query : query.toQuery()).trim().replace(/;$/, ''));
  const transactional = migration.isTransactional();
  // Written out rather than --assume-in-transaction, which lets a one-statement file through as if a
  // tool ran it alone; MikroORM runs every statement of a transactional migration in a transaction.
  const body = statements.map((statement) => `${statement};\n`).join('\n');
  return { sql: transactional ? `begin;\n\n${body}\ncommit;\n` : body, transactional };
}

/** squawk over one file of SQL; passed is false when it reports anything. */
export async function squawk(file: string): Promise<{ passed: boolean; report: string }> {
  const transaction = '--no-assume-in-transaction';
  const args = [`--config=${CONFIG}`, '--reporter=gcc', transaction, file];
  try {
    const { stdout } = await promisify(execFile)(SQUAWK, args, { cwd: ROOT });
    return { passed: true, report: stdout.trim() };
  } catch (error) {
    const { code, stdout, stderr } = error as { code?: number; stdout?: string; stderr?: string };
    if (code !== 1 && code !== 2) throw error;
    return { passed: false, report: `${stdout ?? ''}${stderr ?? ''}`.trim() };
  }
}

/** Every migration of a folder (default src/migrations), in name order. */
export async function lintMigrations(
  dir = join(ROOT, 'src', 'migrations'),
  baseline = BASELINE,
): Promise<MigrationLint[]> {
  const out = join(ROOT, 'temp', 'migrations-sql');
  mkdirSync(out, { recursive: true });
  const files = readdirSync(dir)
    .filter((file) => /^Migration\w*\.ts$/.test(file))
    .sort();
  const results: MigrationLint[] = [];
  for (const file of files) {
    const name = file.replace(/\.ts$/, '');
    const module = (await import(join(dir, file))) as Record<string, MigrationClass | undefined>;
    const migrationClass = module[name];
    if (!migrationClass) throw new Error(`${file} does not export a class named ${name}`);
    const { sql, transactional } = await migrationSql(migrationClass);
    const sqlFile = join(out, `${name}.sql`);
    writeFileSync(sqlFile, sql);
    const { passed, report } = await squawk(sqlFile);
    results.push({ name, transactional, baselined: baseline.has(name), passed, report });
  }
  return results;
}

async function main(): Promise<void> {
  const results = await lintMigrations();
  for (const result of results) {
    const status = result.passed ? 'ok' : result.baselined ? 'baselined' : 'FAILED';
    const findings = result.passed
      ? ''
      : ` (${result.report.split('\n').filter((line) => /: (warning|error):/.test(line)).length} findings)`;
    console.log(`${status.padEnd(9)} ${result.name}${result.transactional ? '' : ' (non-transactional)'}${findings}`);
    if (!result.passed && !result.baselined) console.log(result.report.replace(/^/gm, '    '));
  }
  const failed = results.filter((result) => !result.passed && !result.baselined);
  if (failed.length) {
    console.error(`\n${failed.length} migration(s) break the house rules: see docs/operations.md#writing-a-migration`);
    process.exitCode = 1;
  }
}

if (process.argv[1]?.endsWith('lint-migrations.ts')) {
  main().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
