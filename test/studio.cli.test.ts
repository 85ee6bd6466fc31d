import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { EmbeddedServer, freePort } from '../src/db/embedded-server';
import { useTestDatabase } from './support/db';
import { call } from './studio.world';

/** `npm run db:studio` itself (scripts/studio.ts), against DATABASE_URL databases of this run's server. */
const db = useTestDatabase();
const ROOT = join(__dirname, '..');
const running: ChildProcess[] = [];

function studioScript(
  databaseUrl: string | null,
  args: string[],
  extraEnv: Record<string, string> = {},
): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const port = args.includes('--port') ? [] : ['--port', '0'];
  const child = spawn(
    process.execPath,
    [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'scripts/studio.ts', ...port, ...args],
    {
      cwd: ROOT,
      env: databaseUrl
        ? { ...process.env, ...extraEnv, DATABASE_URL: databaseUrl }
        : { ...withoutDatabaseUrl(), ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  running.push(child);
  let text = '';
  child.stdout.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => text, exited };
}

async function until(output: () => string, pattern: RegExp, exited: Promise<unknown>): Promise<RegExpMatchArray> {
  let done = false;
  void exited.then(() => (done = true));
  for (let i = 0; i < 1500; i++) {
    const match = pattern.exec(output());
    if (match) return match;
    if (done) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ${pattern} in:\n${output()}`);
}

function withoutDatabaseUrl(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  return env;
}

afterAll(() => {
  for (const child of running) if (child.exitCode === null) child.kill('SIGKILL');
});

describe('npm run db:studio', () => {
  it('on a fresh clone: starts the embedded server, migrates, seeds the small world and serves it', async () => {
    const env = { CRYB_PGDATA: mkdtempSync(join(tmpdir(), 'cryb-studio-pg-')), CRYB_DB_PORT: String(await freePort()) };
    chmodSync(env.CRYB_PGDATA, 0o755); // the cluster runs as the postgres user when the tests run as root
    const embedded = new EmbeddedServer({
      baseDir: env.CRYB_PGDATA,
      port: Number(env.CRYB_DB_PORT),
      log: () => undefined,
    });
    try {
      const { child, output, exited } = studioScript(null, [], env);
      const [, url] = await until(output, /CRYB studio: (http:\/\/127\.0\.0\.1:\d+\/)/, exited);
      expect(output()).toMatch(/applied \d+ migration\(s\)/);
      expect(output()).toMatch(/the database is empty: seeding the small world[\s\S]*seeded the small world/);
      expect((await call(url, '/api/servers')).json.servers).toHaveLength(2);
      expect((await call(url, '/')).body).toContain('id="chart-hourly"');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      await embedded.stop().catch(() => undefined);
      rmSync(env.CRYB_PGDATA, { recursive: true, force: true });
    }
  }, 240_000);

  it('seeds an empty database when asked, prints the URL and serves the small world', async () => {
    const { child, output, exited } = studioScript(db().url, ['--seed']);
    const [, url] = await until(output, /CRYB studio: (http:\/\/127\.0\.0\.1:\d+\/)/, exited);
    expect(output()).toMatch(/seeded the small world \(seed \d+\): 20 users, 2 servers/);
    expect(output()).toContain('read-only');
    const servers = await call(url, '/api/servers');
    expect(servers.json.servers).toHaveLength(2);
    expect((await call(url, '/')).status).toBe(200);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 240_000);

  it('leaves an empty DATABASE_URL alone without --seed, and a non-empty one with it', async () => {
    const empty = await createDatabase(true);
    const first = studioScript(empty, []);
    await until(first.output, /CRYB studio: http/, first.exited);
    expect(first.output()).toContain('the database is empty: pass --seed to seed the small world into it');
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const users = await db().sql<{ n: number }>(`select count(*)::int as n from "User"`);
    const again = studioScript(db().url, ['--seed']);
    await until(again.output, /CRYB studio: http/, again.exited);
    expect(again.output()).toContain(`the database already has ${users[0].n} users: not seeding`);
    again.child.kill('SIGTERM');
    await again.exited;
  }, 240_000);

  it('refuses to migrate a DATABASE_URL unless --migrate, binds beyond loopback only with a token, and names a taken port', async () => {
    const bare = await createDatabase(false);
    const refused = studioScript(bare, []);
    expect(await refused.exited).toBe(1);
    expect(refused.output()).toMatch(
      /migration\(s\) pending on DATABASE_URL: run npm run db:migrate:deploy first, or pass --migrate/,
    );
    const migrated = studioScript(bare, ['--migrate', '--seed']);
    const [, url] = await until(migrated.output, /CRYB studio: (http:\/\/127\.0\.0\.1:\d+\/)/, migrated.exited);
    expect(migrated.output()).toMatch(/applied \d+ migration\(s\)/);
    expect((await call(url, '/api/servers')).json.servers).toHaveLength(2);
    migrated.child.kill('SIGTERM');
    expect(await migrated.exited).toBe(0);
    const exposed = studioScript(db().url, ['--host', '0.0.0.0']);
    expect(await exposed.exited).toBe(1);
    expect(exposed.output()).toContain('give a token of at least 16 characters');
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = String((taken.address() as AddressInfo).port);
    try {
      const busy = studioScript(db().url, ['--port', port]);
      expect(await busy.exited).toBe(1);
      expect(busy.output()).toContain(`port ${port} is taken (another studio?): choose another with --port N`);
    } finally {
      taken.close();
    }
  }, 240_000);

  it('takes the token from STUDIO_TOKEN only: --token (argv, visible to every user) is refused, and the token is never printed', async () => {
    const secret = `studio-${randomBytes(12).toString('hex')}`;
    const refused = studioScript(db().url, ['--token', secret]);
    expect(await refused.exited).toBe(1);
    expect(refused.output()).toContain('--token is refused');
    expect(refused.output()).toContain('STUDIO_TOKEN');
    expect(refused.output()).not.toContain(secret);

    const guarded = studioScript(db().url, ['--host', '0.0.0.0'], { STUDIO_TOKEN: secret });
    const [, port] = await until(guarded.output, /CRYB studio: http:\/\/0\.0\.0\.0:(\d+)\//, guarded.exited);
    const local = `http://127.0.0.1:${port}/`;
    expect((await call(local, '/api/servers')).status).toBe(401);
    expect((await call(local, '/api/servers', { headers: { authorization: `Bearer ${secret}` } })).status).toBe(200);
    expect(guarded.output()).toContain('?token=<STUDIO_TOKEN>');
    expect(guarded.output()).not.toContain(secret);
    guarded.child.kill('SIGTERM');
    expect(await guarded.exited).toBe(0);
    expect(guarded.output()).not.toContain(secret);
  }, 240_000);
});

const made: string[] = [];
/** A database of this run's server: cloned from the migrated template, or bare (no schema). */
async function createDatabase(migrated: boolean): Promise<string> {
  const admin = new Client({ connectionString: inject('adminUrl') });
  await admin.connect();
  const name = `cryb_studio_cli_${randomBytes(4).toString('hex')}`;
  await admin.query(`create database "${name}"${migrated ? ` template "${inject('templateDatabase')}"` : ''}`);
  await admin.end();
  made.push(name);
  const url = new URL(inject('adminUrl'));
  url.pathname = `/${name}`;
  return url.toString();
}

afterAll(async () => {
  const admin = new Client({ connectionString: inject('adminUrl') });
  await admin.connect();
  for (const name of made) await admin.query(`drop database if exists "${name}" with (force)`);
  await admin.end();
});
