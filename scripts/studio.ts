/**
 * npm run db:studio: the local web studio (src/studio) on DATABASE_URL or the embedded server.
 *
 *   npm run db:studio                       read-only, http://127.0.0.1:5555/
 *   npm run db:studio -- --port 6000        another port (or STUDIO_PORT)
 *   npm run db:studio -- --write            enables domain actions (kick, ban, delete a message as a chosen actor)
 *   STUDIO_TOKEN=<secret> npm run db:studio -- --host 0.0.0.0   beyond loopback: every request needs the token
 *
 * The token comes from the STUDIO_TOKEN environment variable only: a command line is readable by
 * every user of the machine (ps, /proc), and the token is never printed.
 *   npm run db:studio -- --seed / --no-seed / --migrate
 *
 * On the embedded server (no DATABASE_URL) it applies pending migrations and, when the database has
 * no users, seeds the small world, saying so: a fresh clone opens on something to look at. On
 * DATABASE_URL it changes nothing unless asked: --migrate applies pending migrations, --seed seeds
 * the small world into an empty database.
 */
import { parseArgs } from 'node:util';
import { createOrm, migrate, type CrybOrm } from '../src/db/orm';
import { plainOutputUnlessTerminal, reportFailure } from '../src/ops/failure';
import { User } from '../src/entities/user/User';
import { seedSmallWorld } from '../src/studio/seed';
import { startStudio } from '../src/studio';

const say = (line: string) => console.log(line);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      // Parsed only to refuse it with a clear message.
      token: { type: 'string' },
      write: { type: 'boolean', default: false },
      seed: { type: 'boolean' },
      'no-seed': { type: 'boolean', default: false },
      migrate: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: false,
  });
  if (values.help) {
    say(
      'usage: [STUDIO_TOKEN=T] npm run db:studio -- [--port 5555] [--host 127.0.0.1] [--write] [--seed|--no-seed] ' +
        '[--migrate]',
    );
    return;
  }
  if (values.token !== undefined) {
    throw new Error(
      '--token is refused: a command line is visible to every user of this machine; set STUDIO_TOKEN in the ' +
        'environment instead',
    );
  }
  const port = Number(values.port ?? process.env.STUDIO_PORT ?? 5555);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port must be 0-65535, not ${values.port}`);
  const token = process.env.STUDIO_TOKEN || undefined;
  const embedded = !process.env.DATABASE_URL;

  const orm = await createOrm({ embedded: true, migrations: 'ignore', logger: (line) => console.error(line) });
  const pending = await orm.getMigrator().getPendingMigrations();
  if (pending.length) {
    if (embedded || values.migrate) {
      const applied = await migrate(orm);
      say(`applied ${applied.length} migration(s)`);
    } else {
      await orm.close(true);
      throw new Error(
        `${pending.length} migration(s) pending on DATABASE_URL: run npm run db:migrate:deploy first, or pass ` +
          `--migrate`,
      );
    }
  }
  await seedIfEmpty(orm, embedded, values.seed, values['no-seed']);

  const studio = await startStudio({ orm, port, host: values.host, token, write: values.write }).catch(
    async (error: Error & { code?: string }) => {
      await orm.close(true);
      if (error.code === 'EADDRINUSE')
        throw new Error(`port ${port} is taken (another studio?): choose another with --port N`);
      throw error;
    },
  );
  say(
    `CRYB studio: ${studio.url}  (${values.write ? 'WRITE mode: domain actions enabled' : 'read-only'}; Ctrl-C stops)`,
  );
  // The token itself is never printed: a terminal's scrollback and CI logs outlive it.
  if (token)
    say(
      `every request needs the token: open ${studio.url}?token=<STUDIO_TOKEN> once, or send Authorization: Bearer ` +
        `<STUDIO_TOKEN>`,
    );
  // A signal listener's returned promise would be dropped: stop handles its own failure.
  const stop = () => {
    studio
      .close()
      .then(() => orm.close(true))
      .then(
        () => process.exit(0),
        (error: unknown) => process.exit(reportFailure(error, (line) => console.error(`db:studio: ${line}`))),
      );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

async function seedIfEmpty(orm: CrybOrm, embedded: boolean, seed: boolean | undefined, noSeed: boolean): Promise<void> {
  const users = await orm.em.fork().count(User);
  if (users > 0) {
    if (seed) say(`the database already has ${users} users: not seeding`);
    return;
  }
  if (noSeed) return say('the database is empty (--no-seed): nothing to browse until something writes to it');
  if (!embedded && !seed) return say('the database is empty: pass --seed to seed the small world into it');
  say('the database is empty: seeding the small world (about 20 users, 2 servers) ...');
  say(await seedSmallWorld(orm));
}

// Not runCommand: the studio keeps running after main returns, until Ctrl-C.
plainOutputUnlessTerminal();
main().catch((error: unknown) => process.exit(reportFailure(error, (line) => console.error(`db:studio: ${line}`))));
