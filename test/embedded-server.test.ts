import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedServer, freePort } from '../src/db/embedded-server';

/**
 * The embedded server's awkward moments, each on a throwaway cluster and a free port: every one
 * answers with one clear line (or one clear error) and keeps the data written before it.
 */

const ROOT = resolve(__dirname, '..');
const oneLine = (text: string) => expect(text.trim()).not.toMatch(/\n/);

async function query<T = Record<string, unknown>>(server: EmbeddedServer, sql: string): Promise<T[]> {
  const client = new Client({ connectionString: server.url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

const notes = async (server: EmbeddedServer) =>
  (await query<{ note: string }>(server, 'select note from kept order by id')).map((r) => r.note);
const keep = (server: EmbeddedServer, note: string) => query(server, `insert into kept (note) values ('${note}')`);

function listen(port: number): Promise<Server> {
  return new Promise((done, fail) => {
    const blocker = createServer();
    blocker.once('error', fail);
    blocker.listen(port, '127.0.0.1', () => done(blocker));
  });
}

const uidOf = (pid: number) => Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

describe('EmbeddedServer', () => {
  let baseDir: string;
  let port: number;
  let server: EmbeddedServer;
  const logged: string[] = [];
  let firstStart = '';

  beforeAll(async () => {
    baseDir = mkdtempSync(join(tmpdir(), 'cryb-embedded-test-'));
    port = await freePort();
    server = new EmbeddedServer({ baseDir, port, log: (line) => logged.push(line) });
  });

  afterAll(async () => {
    await server.destroy();
  });

  it('starting twice: the second start says it is already running, same process, data kept', async () => {
    firstStart = await server.start();
    expect(firstStart).toMatch(new RegExp(`^embedded PostgreSQL started on port ${port}\\b.*\\(initialised\\)$`));
    oneLine(firstStart);
    await query(server, 'create table kept (id serial primary key, note text not null)');
    await keep(server, 'before second start');
    const before = await server.status();
    expect(before.running).toBe(true);

    const second = await server.start();
    expect(second).toMatch(new RegExp(`^embedded PostgreSQL already running on port ${port} \\(pid \\d+\\)`));
    oneLine(second);
    expect(await server.status()).toEqual(before);
    expect(await notes(server)).toEqual(['before second start']);
  });

  it('two starts at the same moment: one starts the server, the other finds it running', async () => {
    await server.stop();
    const lines = await Promise.all([server.start(), server.start()]);
    expect(lines.filter((l) => /^embedded PostgreSQL started on port/.test(l))).toHaveLength(1);
    expect(lines.filter((l) => /^embedded PostgreSQL already running on port/.test(l))).toHaveLength(1);
    lines.forEach(oneLine);
    await keep(server, 'after concurrent starts');
    expect(await notes(server)).toEqual(['before second start', 'after concurrent starts']);
  });

  it('stopping when it is not running: one line, no error, data kept', async () => {
    const stopped = await server.stop();
    expect(stopped).toMatch(/^embedded PostgreSQL stopped \(was pid \d+\); data kept in /);
    oneLine(stopped);
    expect(await server.status()).toEqual({ running: false });

    const again = await server.stop();
    expect(again).toMatch(/^embedded PostgreSQL is not running; nothing to stop/);
    oneLine(again);

    await server.start();
    expect(await notes(server)).toEqual(['before second start', 'after concurrent starts']);
  });

  it('a port taken by another program: one clear error, the other listener untouched, data kept', async () => {
    await server.stop();
    const takenPort = await freePort();
    const blocker = await listen(takenPort);
    try {
      const elsewhere = new EmbeddedServer({ baseDir, port: takenPort, log: (line) => logged.push(line) });
      const error = await elsewhere.start().then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error?.message).toBe(
        `port ${takenPort} is taken by another program; free it, set CRYB_DB_PORT to another port, or set DATABASE_URL`,
      );
      expect(blocker.listening).toBe(true);
      expect(await server.status()).toEqual({ running: false });
    } finally {
      await new Promise((done) => blocker.close(done));
    }

    await server.start();
    // The cluster already runs on `port`: asking for it on another port is refused, not restarted.
    const other = new EmbeddedServer({ baseDir, port: takenPort });
    await expect(other.start()).rejects.toThrow(
      new RegExp(`already running on port ${port}, not ${takenPort}; stop it first`),
    );
    expect(await notes(server)).toEqual(['before second start', 'after concurrent starts']);
  });

  it('a stale postmaster.pid after the postmaster was killed (kill -9): start recovers, data kept', async () => {
    await keep(server, 'before the crash');
    const running = await server.status();
    if (!running.running) throw new Error('expected the server to run');
    process.kill(running.pid, 'SIGKILL');
    await expect.poll(() => server.status()).toEqual({ running: false });
    expect(readFileSync(join(server.dataDir, 'postmaster.pid'), 'utf8')).toMatch(new RegExp(`^${running.pid}\\n`));

    const line = await server.start();
    expect(line).toMatch(
      new RegExp(
        `^embedded PostgreSQL started on port ${port}\\b.*\\(removed a stale postmaster\\.pid left by a server that ` +
          `is no longer running\\)$`,
      ),
    );
    oneLine(line);
    const after = await server.status();
    expect(after.running && after.pid).not.toBe(running.pid);
    expect(await notes(server)).toEqual(['before second start', 'after concurrent starts', 'before the crash']);
  });

  it('a postmaster.pid naming a live process that is not this cluster (a reused pid): start recovers, data kept', async () => {
    await server.stop();
    // What a reused pid looks like: a live process, even one calling itself postgres, of another cluster.
    const impostor = spawn(
      process.execPath,
      ['-e', 'setTimeout(() => {}, 60000)', 'postgres', '-D', '/elsewhere/data'],
      { stdio: 'ignore' },
    );
    try {
      writeFileSync(
        join(server.dataDir, 'postmaster.pid'),
        `${impostor.pid}\n${server.dataDir}\n0\n${port}\n\n127.0.0.1\n0 0\nready\n`,
      );
      expect(await server.status()).toEqual({ running: false });

      const line = await server.start();
      expect(line).toMatch(/\(removed a stale postmaster\.pid left by a server that is no longer running\)$/);
      oneLine(line);
      expect(impostor.exitCode).toBe(null);
    } finally {
      impostor.kill();
    }
    expect(await notes(server)).toEqual(['before second start', 'after concurrent starts', 'before the crash']);
  });

  it('running as root: the server runs as the postgres system user, which owns the data', async () => {
    const status = await server.status();
    if (!status.running) throw new Error('expected the server to run');
    const runningAsRoot = process.getuid!() === 0;
    const expectedUid = runningAsRoot
      ? Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim())
      : process.getuid!();
    expect(Number.isInteger(expectedUid)).toBe(true);
    expect(uidOf(status.pid)).toBe(expectedUid);
    expect(statSync(server.dataDir).uid).toBe(expectedUid);
    if (runningAsRoot) {
      expect(expectedUid).not.toBe(0);
      expect(firstStart).toMatch(/ as the postgres system user \(PostgreSQL refuses to run as root\)/);
    }
    expect(await notes(server)).toEqual(['before second start', 'after concurrent starts', 'before the crash']);
  });

  it('logs nothing beside the lines it returns', () => {
    expect(logged).toEqual([]);
  });
});

describe('npm run db:start / db:status / db:stop (scripts/db.ts)', () => {
  const run = promisify(execFile);
  let env: NodeJS.ProcessEnv;
  let server: EmbeddedServer;
  let port: number;

  const db = async (command: string, script = 'scripts/db.ts', extra: NodeJS.ProcessEnv = {}) => {
    const result = await run(process.execPath, ['--import', 'tsx', script, command], {
      cwd: ROOT,
      env: { ...env, ...extra },
    }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    return { code: result.code, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
  };

  beforeAll(async () => {
    const baseDir = mkdtempSync(join(tmpdir(), 'cryb-dbscript-test-'));
    port = await freePort();
    env = { ...process.env, CRYB_PGDATA: baseDir, CRYB_DB_PORT: String(port) };
    delete env.DATABASE_URL;
    server = new EmbeddedServer({ baseDir, port });
  });

  afterAll(async () => {
    await server.destroy();
  });

  it('start, start again, status, stop, stop again: one line each, data kept', async () => {
    const start = await db('start');
    expect(start.code).toBe(0);
    expect(start.stdout.split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^embedded PostgreSQL started on port ${port}\\b.*\\(initialised\\)$`)),
      `DATABASE_URL=postgresql://postgres@127.0.0.1:${port}/cryb`,
    ]);
    const cryb = new EmbeddedServer({ baseDir: env.CRYB_PGDATA!, port });
    const client = new Client({ connectionString: cryb.urlFor('cryb') });
    await client.connect();
    await client.query('create table kept (note text)');
    await client.query(`insert into kept values ('written through db:start')`);
    await client.end();

    const again = await db('start');
    expect(again.code).toBe(0);
    expect(again.stdout.split('\n')[0]).toMatch(
      new RegExp(`^embedded PostgreSQL already running on port ${port} \\(pid \\d+\\)`),
    );

    const status = await db('status');
    expect(status).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(new RegExp(`^embedded PostgreSQL running on port ${port} \\(pid \\d+\\)`)),
    });

    const stop = await db('stop');
    expect(stop).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^embedded PostgreSQL stopped \(was pid \d+\); data kept in /),
    });
    oneLine(stop.stdout);
    const stopAgain = await db('stop');
    expect(stopAgain).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^embedded PostgreSQL is not running; nothing to stop/),
      stderr: '',
    });

    expect((await db('start')).code).toBe(0);
    const check = new Client({ connectionString: cryb.urlFor('cryb') });
    await check.connect();
    expect((await check.query('select note from kept')).rows).toEqual([{ note: 'written through db:start' }]);
    await check.end();
  });

  it('a taken port: exit code 4 (no database) and one clear error line', async () => {
    await db('stop');
    const blocker = await listen(port);
    try {
      const start = await db('start');
      expect(start.code).toBe(4);
      expect(start.stderr).toBe(
        `error: port ${port} is taken by another program; free it, set CRYB_DB_PORT to another port, or set ` +
          `DATABASE_URL`,
      );
    } finally {
      await new Promise((done) => blocker.close(done));
    }
  });

  it('the cluster running on another port than CRYB_DB_PORT (a silent program holds that one): db:start and the scripts give the same line, no hang', async () => {
    expect((await db('start')).code).toBe(0);
    const otherPort = await freePort();
    const silent = await listen(otherPort);
    const held: import('node:net').Socket[] = [];
    silent.on('connection', (socket) => held.push(socket));
    try {
      const line =
        `error: the embedded server in ${join(env.CRYB_PGDATA!, 'data')} is already running on ` +
        `port ${port}, not ${otherPort}; stop it first (npm run db:stop), or set CRYB_DB_PORT=${port}`;
      const start = await db('start', 'scripts/db.ts', { CRYB_DB_PORT: String(otherPort) });
      expect(start).toMatchObject({ code: 4, stderr: line });
      const status = await db('status', 'scripts/migrate.ts', { CRYB_DB_PORT: String(otherPort) });
      expect(status).toMatchObject({ code: 4, stderr: line });
      expect(held).toEqual([]);
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise((done) => silent.close(done));
    }
  });
});
