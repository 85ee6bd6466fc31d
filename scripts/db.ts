/** npm run db:start | db:stop | db:status: the project's persistent embedded PostgreSQL. */
import { EMBEDDED_DATABASE } from '../src/db/config';
import { projectEmbeddedServer } from '../src/db/embedded-server';

async function main(command: string | undefined): Promise<void> {
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
      console.log(status.running ? `embedded PostgreSQL running on port ${status.port} (pid ${status.pid}), data in ${server.dataDir}` : `embedded PostgreSQL is not running (data in ${server.dataDir})`);
      return;
    }
    default:
      throw new Error('usage: tsx scripts/db.ts start|stop|status');
  }
}

main(process.argv[2]).catch((error: Error) => {
  console.error(`error: ${error.message}`);
  process.exit(1);
});
