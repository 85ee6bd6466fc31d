import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { ENTITIES } from '../src/entities';

/**
 * `npm run build` produces a dist/ that loads and migrates with plain node: no typescript,
 * ts-morph, @mikro-orm/reflection or tsx (a require hook makes loading any of them throw).
 */

const ROOT = resolve(__dirname, '..');
const execute = promisify(execFile);
const adminUrl = inject('adminUrl');
const runTag = inject('templateDatabase').split('_').pop();
const suffix = Math.random().toString(36).slice(2, 8);
const database = `cryb_t_${runTag}_dist_${suffix}`;
const cliDatabase = `cryb_t_${runTag}_distcli_${suffix}`;
let scratch: string | undefined;

/** A child environment without any TypeScript loader vitest or the caller may have set. */
function plainNodeEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.DATABASE_URL;
  return env;
}

async function run(file: string, args: string[]) {
  return execute(file, args, { cwd: ROOT, env: plainNodeEnv(), maxBuffer: 16 * 1024 * 1024 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      stdout: error.stdout,
      stderr: error.stderr,
    }),
  );
}

const BLOCK_TYPESCRIPT = `
const Module = require('node:module');
const blocked = /^(typescript|ts-morph|@mikro-orm\\/reflection|tsx)(\\/|$)/;
const attempts = [];
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (blocked.test(request)) {
    attempts.push(request);
    throw new Error('TypeScript tooling is not available here: ' + request);
  }
  return resolveFilename.call(this, request, ...rest);
};
globalThis.__blockedAttempts = attempts;
`;

const DIST_MIGRATE = `
require('./block-typescript.js');
const blockedAttempts = globalThis.__blockedAttempts;
(async () => {
  let hookWorks = false;
  try { require('typescript'); } catch (error) { hookWorks = /not available/.test(error.message); }
  blockedAttempts.length = 0;

  const api = require(${JSON.stringify(join(ROOT, 'dist'))});
  const orm = await api.createOrm({ clientUrl: process.argv[2], poolSize: 2, migrations: 'ignore' });
  try {
    const applied = await api.migrate(orm);
    const user = await new api.UserService(orm.em.fork()).register({ username: 'Compiled' });
    const rows = await orm.em.fork().getConnection().execute('select "username", "discriminator" from "User"');
    const drift = await orm.getSchemaGenerator().getUpdateSchemaSQL({ wrap: false });
    console.log(JSON.stringify({
      hookWorks,
      blockedAttempts,
      applied,
      user: { username: user.username, discriminator: user.discriminator },
      rows,
      drift,
      metadataProvider: orm.config.getMetadataProvider().constructor.name,
      typescriptLoaded: Object.keys(require.cache).filter((p) =>
        /node_modules\\/(typescript|ts-morph|tsx|@mikro-orm\\/reflection)\\//.test(p),
      ),
    }));
  } finally {
    await orm.close(true);
  }
})().catch((error) => { console.error(error); process.exit(1); });
`;

afterAll(async () => {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`drop database if exists "${database}" with (force)`);
  await admin.query(`drop database if exists "${cliDatabase}" with (force)`);
  await admin.end();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('npm run build', () => {
  it('emits dist/ with declarations and the metadata cache, and the compiled package migrates without TypeScript tooling', async () => {
    const build = await run('npm', ['run', '-s', 'build']);
    expect(build.code, `${build.stdout}\n${build.stderr}`).toBe(0);

    // Declarations beside the code, and the entry points `main` and require('./dist') use.
    for (const file of [
      'src/index.js',
      'src/index.d.ts',
      'src/entities/user/User.d.ts',
      'index.js',
      'index.d.ts',
      'metadata.json',
    ]) {
      expect(existsSync(join(ROOT, 'dist', file)), file).toBe(true);
    }
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { main: string; types: string };
    expect(existsSync(join(ROOT, pkg.main))).toBe(true);
    expect(existsSync(join(ROOT, pkg.types))).toBe(true);
    const compiledMigrations = readdirSync(join(ROOT, 'dist', 'src', 'migrations')).filter((f) =>
      /^Migration.*\.js$/.test(f),
    );
    const sourceMigrations = readdirSync(join(ROOT, 'src', 'migrations')).filter((f) => /^Migration.*\.ts$/.test(f));
    expect(compiledMigrations.map((f) => f.replace(/\.js$/, '')).sort()).toEqual(
      sourceMigrations.map((f) => f.replace(/\.ts$/, '')).sort(),
    );

    // The combined cache covers every entity, and points at the compiled files.
    const metadata = JSON.parse(readFileSync(join(ROOT, 'dist', 'metadata.json'), 'utf8')) as Record<
      string,
      { path: string; properties: object }
    >;
    expect(Object.keys(metadata).sort()).toEqual(ENTITIES.map((e) => e.name).sort());
    for (const [name, meta] of Object.entries(metadata)) {
      expect(meta.path).toMatch(new RegExp(`^\\./dist/src/entities/.+/${name}\\.js$`));
      expect(existsSync(join(ROOT, meta.path))).toBe(true);
    }

    // `node -e "require('./dist')"` loads the public API.
    const load = await run(process.execPath, [
      '-e',
      `const api = require('./dist'); console.log(JSON.stringify(Object.keys(api)))`,
    ]);
    expect(load.code, load.stderr).toBe(0);
    expect(JSON.parse(load.stdout)).toEqual(
      expect.arrayContaining([
        'createOrm',
        'migrate',
        'User',
        'UserRepository',
        'Relationship',
        'ENTITIES',
        'CrybNamingStrategy',
      ]),
    );

    // A fresh database, migrated and used by the compiled package with TypeScript tooling blocked.
    const admin = new Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`create database "${database}"`);
    await admin.end();
    mkdirSync(join(ROOT, 'temp'), { recursive: true });
    scratch = mkdtempSync(join(ROOT, 'temp', 'dist-check-'));
    writeFileSync(join(scratch, 'block-typescript.js'), BLOCK_TYPESCRIPT);
    writeFileSync(join(scratch, 'migrate.js'), DIST_MIGRATE);
    const url = Object.assign(new URL(adminUrl), { pathname: `/${database}` }).toString();
    const migrated = await run(process.execPath, [join(scratch, 'migrate.js'), url]);
    expect(migrated.code, `${migrated.stdout}\n${migrated.stderr}`).toBe(0);
    const report = JSON.parse(migrated.stdout.trim().split('\n').pop()!) as {
      hookWorks: boolean;
      blockedAttempts: string[];
      applied: string[];
      user: { username: string; discriminator: string };
      rows: { username: string; discriminator: string }[];
      drift: string;
      metadataProvider: string;
      typescriptLoaded: string[];
    };
    expect(report.hookWorks).toBe(true);
    // MikroORM reads each listed @mikro-orm/* package's package.json to check versions match (and
    // skips one it cannot read); any attempt to load code of the blocked packages would show here.
    expect(report.blockedAttempts.filter((request) => !request.endsWith('/package.json'))).toEqual([]);
    expect(report.typescriptLoaded).toEqual([]);
    expect(report.metadataProvider).not.toBe('TsMorphMetadataProvider');
    expect(report.applied).toEqual(sourceMigrations.map((f) => f.replace(/\.ts$/, '')).sort());
    expect(report.user.username).toBe('Compiled');
    expect(report.rows).toEqual([{ username: 'Compiled', discriminator: report.user.discriminator }]);
    // The compiled metadata describes exactly the schema the migrations built.
    expect(report.drift.trim()).toBe('');

    // Operators with only the compiled package: the mikro-orm CLI on dist's config, plain node.
    const admin2 = new Client({ connectionString: adminUrl });
    await admin2.connect();
    await admin2.query(`create database "${cliDatabase}"`);
    await admin2.end();
    const cliUrl = Object.assign(new URL(adminUrl), { pathname: `/${cliDatabase}` }).toString();
    const cli = await execute(
      process.execPath,
      ['-r', join(scratch, 'block-typescript.js'), './node_modules/@mikro-orm/cli/cli', 'migration:up'],
      {
        cwd: ROOT,
        // An operator's project has none of this repository's package.json settings (useTsNode for the source config).
        env: {
          ...plainNodeEnv(),
          DATABASE_URL: cliUrl,
          MIKRO_ORM_CLI_CONFIG: './dist/mikro-orm.config.js',
          MIKRO_ORM_CLI_USE_TS_NODE: 'false',
          MIKRO_ORM_NO_COLOR: '1',
        },
      },
    ).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(cli.code, `${cli.stdout}\n${cli.stderr}`).toBe(0);
    expect(cli.stdout).toContain('Successfully migrated up to the latest version');
    const check = new Client({ connectionString: cliUrl });
    await check.connect();
    const rows = await check.query<{ name: string }>('select name from mikro_orm_migrations order by id');
    await check.end();
    expect(rows.rows.map((r) => r.name)).toEqual(report.applied);
  }, 180_000);
});
