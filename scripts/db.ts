/**
 * npm run db:start | db:stop | db:status: the project's persistent embedded PostgreSQL.
 * npm run db:reset: drop everything in the database's schema, apply every migration, seed.
 */
// Only the embedded-server module up front: no ORM to load, so start/stop/status answer quickly.
import { EMBEDDED_DATABASE, projectEmbeddedServer } from '../src/db/embedded-server';

const USAGE = 'usage: tsx scripts/db.ts start|stop|status|reset';

async function main(command: string | undefined): Promise<void> {
  if (command === 'reset') return reset();
  if (!['start', 'stop', 'status'].includes(command ?? '')) throw new Error(USAGE);
  if (process.env.DATABASE_URL) {
    console.log('DATABASE_URL is set: the scripts use that server, not the embedded one (unset it to use the embedded server)');
  }
  const server = projectEmbeddedServer(process.cwd(), (line) => console.log(line));
  switch (command) {
    case 'start':
      console.log(await server.start());
      await server.ensureDatabase(EMBEDDED_DATABASE);
      console.log(`DATABASE_URL=${server.urlFor(EMBEDDED_DATABASE)}`);
      return;
    case 'stop':
      console.log(await server.stop());
      return;
    case 'status': {
      const status = await server.status();
      console.log(
        status.running
          ? `embedded PostgreSQL running on port ${status.port} (pid ${status.pid}), data in ${server.dataDir}`
          : `embedded PostgreSQL is not running (data in ${server.dataDir})`,
      );
      return;
    }
  }
}

/**
 * Drops the schema itself rather than the entities' tables (what `migration:fresh` does), so the
 * objects hand-written migrations create (functions, views, extensions' objects) go too and
 * every migration runs again on a truly empty schema.
 */
async function reset(): Promise<void> {
  // Loaded here, not at the top: start/stop/status need no ORM.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createOrm, migrate } = require('../src/db/orm') as typeof import('../src/db/orm');
  const orm = await createOrm({ poolSize: 2 });
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
  } finally {
    await orm.close(true);
  }
}

main(process.argv[2]).catch((error: Error) => {
  console.error(`error: ${error.message}`);
  process.exit(1);
});
