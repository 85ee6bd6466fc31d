import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * The mikro-orm CLI as its users type it (`npx mikro-orm ...`, which loads mikro-orm.config.ts
 * through ts-node) and the package's db:* scripts, run as child processes against databases this
 * file creates, checked by their exit codes and by what they leave in the database.
 */

const ROOT = resolve(__dirname, '..');
const SRC_MIGRATIONS = join(ROOT, 'src', 'migrations');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const MIKRO_ORM = join(ROOT, 'node_modules', '.bin', 'mikro-orm');
const execute = promisify(execFile);

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

const adminUrl = inject('adminUrl');
const runTag = inject('templateDatabase').split('_').pop();
const withDatabase = (database: string) => Object.assign(new URL(adminUrl), { pathname: `/${database}` }).toString();
const created: string[] = [];
const folders: string[] = [];

async function admin<T>(work: (client: Client) => Promise<T>, url = adminUrl): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** An empty database; its name matches the pattern global teardown sweeps up after a crash. */
async function emptyDatabase(label: string): Promise<string> {
  const name = `cryb_t_${runTag}_cli_${label}_${Math.random().toString(36).slice(2, 8)}`;
  await admin((c) => c.query(`create database "${name}"`));
  created.push(name);
  return withDatabase(name);
}

const sql = <T = Record<string, unknown>>(url: string, text: string) =>
  admin(async (c) => (await c.query(text)).rows as T[], url);
const tables = async (url: string) =>
  (
    await sql<{ t: string }>(
      url,
      `select table_name as t from information_schema.tables where table_schema = 'public' order by 1`,
    )
  ).map((r) => r.t);
const applied = async (url: string) =>
  (await sql<{ name: string }>(url, `select name from mikro_orm_migrations order by id`)).map((r) => r.name);
const count = async (url: string, table: string) =>
  Number((await sql<{ n: string }>(url, `select count(*) as n from "${table}"`))[0].n);
const migrationNames = (folder: string) =>
  readdirSync(folder)
    .filter((f) => /^Migration.*\.ts$/.test(f) && !f.endsWith('.d.ts'))
    .map((f) => f.replace(/\.ts$/, ''))
    .sort();

/**
 * Under the project's git-ignored temp/, not the system temp dir: a migration file imports
 * '@mikro-orm/migrations', which resolves from the file's own folder up to node_modules.
 */
function tempFolder(prefix: string): string {
  mkdirSync(join(ROOT, 'temp'), { recursive: true });
  const folder = mkdtempSync(join(ROOT, 'temp', prefix));
  folders.push(folder);
  return folder;
}

/** A copy of the real migrations (with their snapshot), so nothing a command writes lands in src/. */
function copyOfMigrations(): string {
  const folder = tempFolder('cryb-cli-migrations-');
  cpSync(SRC_MIGRATIONS, folder, { recursive: true });
  return folder;
}

function environment(url: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('MIKRO_ORM_') || key === 'CRYB_DEBUG_SQL') delete env[key];
  return { ...env, DATABASE_URL: url, MIKRO_ORM_NO_COLOR: '1', NO_COLOR: '1', ...extra };
}

async function spawn(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<Outcome> {
  return execute(file, args, { cwd: ROOT, env, maxBuffer: 16 * 1024 * 1024 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      stdout: error.stdout,
      stderr: error.stderr,
    }),
  );
}

/** `npx mikro-orm <args>`: the CLI's own bin, with no loader in NODE_OPTIONS (ts-node comes from package.json). */
const mikroOrm = (args: string[], env: NodeJS.ProcessEnv) => spawn(MIKRO_ORM, args, { ...env, NODE_OPTIONS: '' });
const npmRun = (script: string, env: NodeJS.ProcessEnv, args: string[] = []) =>
  spawn('npm', ['run', '-s', script, ...(args.length ? ['--', ...args] : [])], env);

/** Exit code 0, with the output shown when it is not. */
function succeeded(outcome: Outcome): Outcome {
  expect(outcome.code, `${outcome.stdout}\n${outcome.stderr}`).toBe(0);
  return outcome;
}

beforeAll(() => {
  expect(existsSync(TSX)).toBe(true);
});

afterAll(async () => {
  await admin(async (c) => {
    for (const name of created) await c.query(`drop database if exists "${name}" with (force)`);
  });
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

describe('npx mikro-orm from the project root', () => {
  it('migration:create, up, list, pending, check, down --to 0, up again, seeder:run and debug', async () => {
    const url = await emptyDatabase('orm');
    const srcBefore = readdirSync(SRC_MIGRATIONS);

    // migration:create into an empty folder diffs the entities against the empty database.
    const fresh = tempFolder('cryb-cli-create-');
    const create = succeeded(
      await mikroOrm(
        ['migration:create'],
        environment(url, { MIKRO_ORM_MIGRATIONS_PATH: fresh, MIKRO_ORM_MIGRATIONS_PATH_TS: fresh }),
      ),
    );
    const createdName = /(Migration\d+)\.ts successfully created/.exec(create.stdout)?.[1];
    expect(createdName, create.stdout).toBeDefined();
    const generated = readFileSync(join(fresh, `${createdName}.ts`), 'utf8');
    expect(generated).toContain('create table "User"');
    expect(generated).toContain('"userId" bigint not null');
    expect(existsSync(join(fresh, '.snapshot-cryb.json'))).toBe(true);
    expect(readdirSync(SRC_MIGRATIONS)).not.toContain(`${createdName}.ts`);
    expect(readdirSync(SRC_MIGRATIONS).filter((f) => !srcBefore.includes(f) && f.startsWith(createdName!))).toEqual([]);
    expect(await tables(url)).toEqual([]); // creating a migration runs nothing

    // The real migrations, from a copy.
    const migrations = copyOfMigrations();
    const names = migrationNames(migrations);
    expect(names.length).toBeGreaterThan(0);
    const env = environment(url, { MIKRO_ORM_MIGRATIONS_PATH: migrations, MIKRO_ORM_MIGRATIONS_PATH_TS: migrations });

    const up = succeeded(await mikroOrm(['migration:up'], env));
    expect(up.stdout).toContain('Successfully migrated up to the latest version');
    expect(await applied(url)).toEqual(names);
    expect(await tables(url)).toEqual(
      expect.arrayContaining(['User', 'UserPresence', 'Relationship', 'mikro_orm_migrations']),
    );

    const list = succeeded(await mikroOrm(['migration:list'], env));
    for (const name of names) expect(list.stdout).toContain(name);
    // Piped output: no ANSI colours.
    expect(list.stdout).not.toContain('\x1b[');
    const nothingPending = succeeded(await mikroOrm(['migration:pending'], env));
    for (const name of names) expect(nothingPending.stdout).not.toContain(name);

    // No drift: the entities against the snapshot, and against the schema the migrations built.
    expect(succeeded(await mikroOrm(['migration:check'], env)).stdout).toContain(
      'No changes required, schema is up-to-date',
    );
    const checkDatabase = { ...env, MIKRO_ORM_MIGRATIONS_SNAPSHOT: 'false' };
    expect(succeeded(await mikroOrm(['migration:check'], checkDatabase)).stdout).toContain(
      'No changes required, schema is up-to-date',
    );
    // ...and the check does catch drift.
    await sql(url, `alter table "User" drop column "bio"`);
    const drifted = await mikroOrm(['migration:check'], checkDatabase);
    expect(drifted.code).toBe(1);
    expect(drifted.stdout).toContain('Changes detected');

    const down = succeeded(await mikroOrm(['migration:down', '--to', '0'], env));
    const pending = succeeded(await mikroOrm(['migration:pending'], env));
    for (const name of names) expect(pending.stdout).toContain(name);
    expect(down.stdout).toContain('Successfully migrated down');
    expect(await tables(url)).toEqual(['mikro_orm_migrations']);
    expect(await applied(url)).toEqual([]);
    // The hand-written migrations' down() ran too.
    expect(await sql(url, `select proname from pg_proc where proname like 'cryb\\_%'`)).toEqual([]);

    succeeded(await mikroOrm(['migration:up'], env));
    expect(await applied(url)).toEqual(names);
    expect(succeeded(await mikroOrm(['migration:check'], checkDatabase)).stdout).toContain('No changes required');

    const seed = succeeded(await mikroOrm(['seeder:run'], env));
    expect(seed.stdout).toContain('Seeder DatabaseSeeder successfully executed');
    expect(await count(url, 'User')).toBeGreaterThan(0);
    expect(await count(url, 'Relationship')).toBeGreaterThan(0);

    const debug = succeeded(await mikroOrm(['debug'], env));
    expect(debug.stdout).toContain('mikro-orm.config.ts (found)');
    expect(debug.stdout).toContain('database connection successful');

    expect(readdirSync(SRC_MIGRATIONS).filter((f) => !srcBefore.includes(f) && f.startsWith(createdName!))).toEqual([]);
  }, 900_000);
});

describe('npm run db:* scripts', () => {
  it('db:migrate:deploy, db:migrate:check, db:seed, db:reset, db:migrate; db:push on an empty database', async () => {
    const url = await emptyDatabase('npm');
    const env = environment(url);
    const names = migrationNames(SRC_MIGRATIONS);

    succeeded(await npmRun('db:migrate:deploy', env));
    expect(await applied(url)).toEqual(names);

    const check = succeeded(await npmRun('db:migrate:check', env));
    expect(check.stdout.match(/No changes required, schema is up-to-date/g)).toHaveLength(2);

    succeeded(await npmRun('db:seed', env));
    const seeded = await count(url, 'User');
    expect(seeded).toBeGreaterThan(0);
    // Seeding again is refused; the hint it prints works as printed.
    const again = await npmRun('db:seed', env);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^refused: this database already holds a world \(\d+ users\): pass --reset/m);
    expect(await count(url, 'User')).toBe(seeded);
    const reseeded = succeeded(await npmRun('db:seed', env, ['--reset']));
    expect(reseeded.stdout).toMatch(/^seeded "default"/m);
    expect(await count(url, 'User')).toBe(seeded);
    expect(reseeded.stderr).not.toMatch(/\b(messages|bulk mode):\d+/);

    // db:reset drops everything in the schema, not only what the entities know about.
    await sql(url, `create table "Leftover" (id int)`);
    await sql(url, `insert into "User" (id, username, discriminator) values (1, 'Marker', '0001')`);
    // On a DATABASE_URL server, db:reset asks first; with no terminal to ask at, it refuses and drops nothing.
    const unconfirmed = await npmRun('db:reset', env);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr.trim()).toBe(
      `refused: db:reset drops every table, view and function in database "${new URL(url).pathname.slice(1)}" ` +
        `(${url}); pass --force to confirm (npm run db:reset -- --force)`,
    );
    expect(await tables(url)).toContain('Leftover');
    expect(await sql(url, `select id from "User" where username = 'Marker'`)).toHaveLength(1);
    const reset = succeeded(await npmRun('db:reset', env, ['--force']));
    expect(reset.stdout).toContain(`applied ${names.length} migrations`);
    expect(reset.stdout).toContain('seeded with DatabaseSeeder');
    expect(await tables(url)).not.toContain('Leftover');
    expect(await sql(url, `select id from "User" where username = 'Marker'`)).toEqual([]);
    expect(await applied(url)).toEqual(names);
    expect(await count(url, 'User')).toBe(seeded);

    // db:migrate on an up-to-date schema: creates nothing, applies nothing (into a copy, never src/).
    const migrations = copyOfMigrations();
    const migrate = succeeded(
      await npmRun('db:migrate', {
        ...env,
        MIKRO_ORM_MIGRATIONS_PATH: migrations,
        MIKRO_ORM_MIGRATIONS_PATH_TS: migrations,
      }),
    );
    expect(migrate.stdout).toContain('No changes required, schema is up-to-date');
    expect(migrationNames(migrations)).toEqual(names);

    // db:migrate -- --name add_x names the migration it writes (a blank one here: nothing changed), then applies it.
    const named = succeeded(
      await npmRun(
        'db:migrate',
        { ...env, MIKRO_ORM_MIGRATIONS_PATH: migrations, MIKRO_ORM_MIGRATIONS_PATH_TS: migrations },
        ['--name', 'add_x', '--blank'],
      ),
    );
    const added = migrationNames(migrations).filter((n) => !names.includes(n));
    expect(added).toEqual([expect.stringMatching(/^Migration\d+_add_x$/)]);
    expect(named.stdout).toContain(`${added[0]}.ts successfully created`);
    expect(named.stdout).toContain(`applied 1 migration(s): ${added[0]}`);

    // db:migrate:status lists the applied migrations and the pending ones.
    await sql(url, `delete from mikro_orm_migrations where name = '${names[names.length - 1]}'`);
    const status = succeeded(await npmRun('db:migrate:status', env));
    expect(status.stdout).toMatch(new RegExp(`^database \\S+: ${names.length} applied, 1 pending$`, 'm'));
    expect(status.stdout).toMatch(new RegExp(`^  pending\\s+${names[names.length - 1]}$`, 'm'));
    expect(status.stdout).toMatch(new RegExp(`^  applied  \\S+Z  ${names[0]}$`, 'm'));

    // db:push: the entities' schema without migrations, for prototyping.
    const pushed = await emptyDatabase('push');
    succeeded(await npmRun('db:push', environment(pushed)));
    const pushedTables = await tables(pushed);
    expect(pushedTables).toEqual(expect.arrayContaining(['User', 'UserPresence', 'Relationship']));
    expect(pushedTables).not.toContain('mikro_orm_migrations');
    const noDrift = await mikroOrm(
      ['migration:check'],
      environment(pushed, { MIKRO_ORM_MIGRATIONS_SNAPSHOT: 'false' }),
    );
    expect(succeeded(noDrift).stdout).toContain('No changes required');
  }, 900_000);
});

describe('one way to fail', () => {
  const tsxRun = (script: string, args: string[], env: NodeJS.ProcessEnv) => spawn(TSX, [script, ...args], env);

  it('every script: a closed port, an unknown database, a # in the password give one line and exit code 4; CRYB_DEBUG=1 adds the stack', async () => {
    const closed = 'postgresql://app:s3cret@127.0.0.1:1/cryb';
    const runs: [string, string[]][] = [
      ['scripts/demo.ts', []],
      ['scripts/seed.ts', ['small']],
      ['scripts/seed.ts', ['check']],
      ['scripts/migrate.ts', ['deploy']],
      ['scripts/migrate.ts', ['status']],
      ['scripts/db.ts', ['reset', '--force']],
      ['scripts/ops.ts', ['migrate']],
      ['scripts/timescale.ts', []],
    ];
    const outcomes = await Promise.all(runs.map(([script, args]) => tsxRun(script, args, environment(closed))));
    outcomes.forEach((outcome, i) => {
      const what = runs[i].join(' ');
      expect(outcome.code, `${what}: ${outcome.stderr}`).toBe(4);
      expect(outcome.stderr, what).toBe(
        'error: the database is unavailable: nothing accepts connections at 127.0.0.1:1 (connection refused): is ' +
          'PostgreSQL running there, and is the port right? [postgresql://app:***@127.0.0.1:1/cryb]\n',
      );
    });

    const typo = withDatabase(`cryb_t_${runTag}_cli_typo_${Math.random().toString(36).slice(2, 8)}`);
    const unknown = await tsxRun('scripts/seed.ts', ['check'], environment(typo));
    expect(unknown.code).toBe(4);
    expect(unknown.stderr.trim()).toMatch(
      /^error: the database is unavailable: database "cryb_t_\S+_cli_typo_\w+" does not exist .*`npx cryb-db migrate`/,
    );
    expect(unknown.stderr.trim()).not.toMatch(/\n/);
    expect(
      await admin((c) => c.query('select 1 from pg_database where datname = $1', [new URL(typo).pathname.slice(1)])),
    ).toMatchObject({ rowCount: 0 });

    const hash = await tsxRun(
      'scripts/migrate.ts',
      ['status'],
      environment('postgresql://app:12#3@127.0.0.1:5432/cryb'),
    );
    expect(hash.code).toBe(4);
    expect(hash.stderr.trim()).toMatch(/^error: the database is unavailable: DATABASE_URL has a '#' .*# as %23/);
    expect(hash.stderr.trim()).not.toMatch(/\n/);

    const debug = await tsxRun('scripts/migrate.ts', ['status'], environment(closed, { CRYB_DEBUG: '1' }));
    expect(debug.code).toBe(4);
    expect(debug.stderr).toMatch(/^error: the database is unavailable: .*\n.*DatabaseUnavailable/s);
    expect(debug.stderr).toMatch(/\n\s+at /);
  }, 600_000);
});
