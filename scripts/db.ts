/**
 * npm run db:start | db:stop | db:status: the project's persistent embedded PostgreSQL.
 * npm run db:reset [-- --force]: drop everything in the database's schema, apply every migration, seed.
 *
 * Exit codes: 0 done, 1 failed, 2 refused (db:reset on DATABASE_URL without --force or a typed
 * confirmation; nothing is dropped), 3 bad usage, 4 no database (the embedded server cannot start,
 * or DATABASE_URL cannot be reached).
 */
import { createInterface } from 'node:readline/promises';
// Only the embedded-server module (and the failure helpers) up front: no ORM to load, so
// start/stop/status answer quickly.
import { EMBEDDED_DATABASE, projectEmbeddedServer } from '../src/db/embedded-server';
import { redactUrl } from '../src/db/connection-options';
import { EXIT, Refused, runCommand, UsageError } from '../src/ops/failure';

const USAGE = 'usage: tsx scripts/db.ts start|stop|status|reset [--force]';

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const command = args.find((a) => !a.startsWith('--'));
  const flags = args.filter((a) => a.startsWith('--'));
  const allowed = command === 'reset' ? ['--force'] : [];
  const unknown = flags.find((f) => !allowed.includes(f));
  if (unknown) throw new UsageError(`unknown option ${unknown}; ${USAGE}`);
  if (args.filter((a) => !a.startsWith('--')).length > 1) throw new UsageError(USAGE);
  if (command === 'reset') return reset(flags.includes('--force'));
  if (!['start', 'stop', 'status'].includes(command ?? '')) throw new UsageError(USAGE);
  if (process.env.DATABASE_URL) {
    console.log(
      'DATABASE_URL is set: the scripts use that server, not the embedded one (unset it to use the embedded server)',
    );
  }
  const server = projectEmbeddedServer(process.cwd(), (line) => console.log(line));
  switch (command) {
    case 'start':
      console.log(await server.start());
      await server.ensureDatabase(EMBEDDED_DATABASE);
      console.log(`DATABASE_URL=${server.urlFor(EMBEDDED_DATABASE)}`);
      return EXIT.ok;
    case 'stop':
      console.log(await server.stop());
      return EXIT.ok;
    default: {
      const status = await server.status();
      console.log(
        status.running
          ? `embedded PostgreSQL running on port ${status.port} (pid ${status.pid}), data in ${server.dataDir}`
          : `embedded PostgreSQL is not running (data in ${server.dataDir})`,
      );
      return EXIT.ok;
    }
  }
}

/**
 * On a server named by DATABASE_URL (anything but the embedded development server) the drop needs
 * --force, or the database's name typed at a terminal. Without a terminal, it refuses.
 */
async function confirmReset(url: string, force: boolean): Promise<void> {
  if (force) return;
  const database = decodeURIComponent(new URL(url).pathname.slice(1));
  const what = `db:reset drops every table, view and function in database "${database}" (${redactUrl(url)})`;
  if (!process.stdin.isTTY) throw new Refused(`${what}; pass --force to confirm (npm run db:reset -- --force)`);
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await prompt.question(`${what}.\nType the database name to confirm: `);
    if (answer.trim() !== database) throw new Refused('the name typed does not match: nothing was dropped');
  } finally {
    prompt.close();
  }
}

/**
 * Drops the schema itself rather than the entities' tables (what `migration:fresh` does), so the
 * objects hand-written migrations create (functions, views, extensions' objects) go too and
 * every migration runs again on a truly empty schema.
 */
async function reset(force: boolean): Promise<number> {
  if (process.env.DATABASE_URL) await confirmReset(process.env.DATABASE_URL, force);
  // Loaded here, not at the top: start/stop/status need no ORM.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createOrm, migrate } = require('../src/db/orm') as typeof import('../src/db/orm');
  const orm = await createOrm({ embedded: true, migrations: 'ignore', poolSize: 2 });
  try {
    const url = new URL(orm.config.get('clientUrl')!);
    const schema = orm.config.get('schema') ?? 'public';
    const connection = orm.em.getConnection();
    await connection.execute(`drop schema if exists "${schema}" cascade`);
    await connection.execute(`create schema "${schema}"`);
    console.log(`dropped and recreated schema ${schema} of database ${url.pathname.slice(1)} on ${url.host}`);
    const applied = await migrate(orm);
    console.log(`applied ${applied.length} migrations`);
    const seeder = orm.config.get('seeder').defaultSeeder!;
    await orm.getSeeder().seedString(seeder);
    console.log(`seeded with ${seeder}`);
    return EXIT.ok;
  } finally {
    await orm.close(true);
  }
}

runCommand(main);
