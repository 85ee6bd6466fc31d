/**
 * npm run db:migrate | db:migrate:deploy | db:migrate:status | db:migrate:check
 *
 *   tsx scripts/migrate.ts create [--name add_x] [--blank]   diff the entities, write a migration, apply it
 *   tsx scripts/migrate.ts deploy                            apply pending migrations (under the migration lock)
 *   tsx scripts/migrate.ts status                            list applied and pending migrations
 *   tsx scripts/migrate.ts check                             entities vs the snapshot, and vs the database
 *
 * Exit codes: 0 done (check: no drift), 1 failed (check: drift found), 3 bad usage, 4 no database.
 */
import { parseArgs } from 'node:util';
import { createOrm, formatMigrationStatus, migrate, migrationStatus, type CrybOrm } from '../src/db/orm';
import { EXIT, runCommand, UsageError } from '../src/ops/failure';

const USAGE = 'usage: tsx scripts/migrate.ts create [--name NAME] [--blank] | deploy | status | check';
const UP_TO_DATE = 'No changes required, schema is up-to-date';

async function open(snapshot: boolean): Promise<CrybOrm> {
  return createOrm({
    embedded: true,
    migrations: 'ignore',
    migrationSnapshot: snapshot,
    poolSize: 2,
    logger: (line) => console.error(line),
  });
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: process.argv.slice(2),
      allowPositionals: true,
      options: { name: { type: 'string', short: 'n' }, blank: { type: 'boolean', default: false } },
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${USAGE}`);
  }
  const [command, ...rest] = parsed.positionals;
  if (rest.length > 0 || !['create', 'deploy', 'status', 'check'].includes(command ?? ''))
    throw new UsageError(command ? `unknown command "${[command, ...rest].join(' ')}"; ${USAGE}` : USAGE);
  if (command !== 'create' && (parsed.values.name || parsed.values.blank))
    throw new UsageError(`--name and --blank belong to create; ${USAGE}`);
  if (parsed.values.name !== undefined && !/^[A-Za-z0-9_]+$/.test(parsed.values.name))
    throw new UsageError(`--name takes letters, digits and underscores (got "${parsed.values.name}")`);

  // create and check read and write the snapshot; deploy and status work from the database alone.
  const orm = await open(command === 'create' || command === 'check');
  try {
    switch (command) {
      case 'create': {
        const result = await orm
          .getMigrator()
          .createMigration(undefined, parsed.values.blank, false, parsed.values.name);
        if (!result.fileName) console.log(UP_TO_DATE);
        else console.log(`${result.fileName} successfully created`);
        const applied = await migrate(orm);
        console.log(
          applied.length ? `applied ${applied.length} migration(s): ${applied.join(', ')}` : 'no pending migrations',
        );
        return EXIT.ok;
      }
      case 'deploy': {
        const applied = await migrate(orm);
        console.log(
          applied.length ? `applied ${applied.length} migration(s): ${applied.join(', ')}` : 'no pending migrations',
        );
        return EXIT.ok;
      }
      case 'status':
        return await status(orm);
      default:
        return await check(orm);
    }
  } finally {
    await orm.close(true);
  }
}

async function status(orm: CrybOrm): Promise<number> {
  for (const line of formatMigrationStatus(
    await migrationStatus(orm),
    'npm run db:migrate:deploy (npx cryb-db migrate where the package is installed)',
  ))
    console.log(line);
  return EXIT.ok;
}

/** Drift between the entities and the snapshot (what migration:create diffs), then the database itself. */
async function check(snapshotOrm: CrybOrm): Promise<number> {
  let drift = false;
  console.log('entities vs the migrations snapshot:');
  drift = (await report(snapshotOrm)) || drift;
  const databaseOrm = await open(false);
  try {
    console.log('entities vs the database schema:');
    drift = (await report(databaseOrm)) || drift;
  } finally {
    await databaseOrm.close(true);
  }
  return drift ? EXIT.failed : EXIT.ok;
}

async function report(orm: CrybOrm): Promise<boolean> {
  const needed = await orm.getMigrator().checkMigrationNeeded();
  console.log(
    needed
      ? 'Changes detected. Please create migration to update schema (npm run db:migrate -- --name NAME).'
      : UP_TO_DATE,
  );
  return needed;
}

runCommand(main);
