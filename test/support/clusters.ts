import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { freePort } from '../../src/db/embedded-server';
import { findPgTool } from '../../src/ops/pg-tools';

/**
 * Real PostgreSQL clusters and a real pgbouncer on loopback, from the machine's own binaries, for
 * the replica and pgbouncer tests. As root they run as the `postgres` system user, because
 * PostgreSQL (and pgbouncer) refuse to run as root.
 */

const run = promisify(execFile);

interface RunAs {
  uid?: number;
  gid?: number;
}

function runAs(): RunAs {
  if (userInfo().uid !== 0) return {};
  const id = (flag: string) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  const uid = id('-u');
  if (uid.status !== 0) throw new Error('running as root without a `postgres` system user to run the servers as');
  return { uid: Number(uid.stdout.trim()), gid: Number(id('-g').stdout.trim()) };
}

/** A temp folder the server's user owns. */
export function ownedTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const as = runAs();
  if (as.uid !== undefined) chownSync(dir, as.uid, as.gid!);
  return dir;
}

export const clusterBinaries = {
  initdb: findPgTool('initdb'),
  pg_ctl: findPgTool('pg_ctl'),
  pg_basebackup: findPgTool('pg_basebackup'),
};
/** Why the replica test cannot run here, or null when it can. */
export const missingClusterBinaries: string | null =
  Object.entries(clusterBinaries)
    .filter(([, path]) => !path)
    .map(([name]) => name)
    .join(', ') || null;

export const pgbouncerBinary = findOnPath('pgbouncer', ['/usr/sbin', '/usr/bin', '/usr/local/bin', '/usr/local/sbin']);

function findOnPath(name: string, extra: string[]): string | null {
  for (const dir of [...(process.env.PATH ?? '').split(':'), ...extra]) {
    if (dir && spawnSync('test', ['-x', join(dir, name)]).status === 0) return join(dir, name);
  }
  return null;
}

export class Cluster {
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  url(database = 'postgres'): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** A new primary: initdb, replication-ready settings, started. */
  static async primary(settings: Record<string, string> = {}): Promise<Cluster> {
    const cluster = new Cluster(ownedTempDir('cryb-primary-'), await freePort());
    await run(
      clusterBinaries.initdb!,
      ['-D', cluster.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
      { ...runAs(), env: { ...process.env, LC_ALL: 'C' } },
    );
    await cluster.start({ wal_level: 'replica', max_wal_senders: '5', fsync: 'off', ...settings });
    return cluster;
  }

  /** A streaming replica of `primary`: pg_basebackup -R writes standby.signal and primary_conninfo. */
  static async replicaOf(primary: Cluster): Promise<Cluster> {
    const cluster = new Cluster(ownedTempDir('cryb-replica-'), await freePort());
    await run(
      clusterBinaries.pg_basebackup!,
      [
        '-h',
        '127.0.0.1',
        '-p',
        String(primary.port),
        '-U',
        'postgres',
        '-D',
        cluster.dataDir,
        '-R',
        '-X',
        'stream',
        '--checkpoint=fast',
      ],
      runAs(),
    );
    await cluster.start({ fsync: 'off', hot_standby: 'on' });
    return cluster;
  }

  /** A plain base backup of `primary` (no standby settings): the start of a point-in-time recovery. */
  static async baseBackupOf(primary: Cluster): Promise<string> {
    const dir = join(ownedTempDir('cryb-base-'), 'data');
    await run(
      clusterBinaries.pg_basebackup!,
      ['-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-D', dir, '-X', 'stream', '--checkpoint=fast'],
      runAs(),
    );
    return dir;
  }

  /**
   * A new cluster recovering from a base backup: recovery.signal plus `settings` (restore_command,
   * recovery_target_time, ...), started. The base backup folder becomes its data folder.
   */
  static async recoverFrom(baseBackup: string, settings: Record<string, string>): Promise<Cluster> {
    const cluster = new Cluster(join(baseBackup, '..'), await freePort());
    writeFileSync(join(baseBackup, 'recovery.signal'), '');
    const as = runAs();
    if (as.uid !== undefined) chownSync(join(baseBackup, 'recovery.signal'), as.uid, as.gid!);
    await cluster.start({ fsync: 'off', ...settings });
    return cluster;
  }

  private settings: Record<string, string> = {};

  async start(settings: Record<string, string> = this.settings): Promise<void> {
    this.settings = settings;
    const all = { listen_addresses: '127.0.0.1', unix_socket_directories: "''", port: String(this.port), ...settings };
    const options = Object.entries(all)
      .map(([k, v]) => `-c ${k}=${v}`)
      .join(' ');
    await run(
      clusterBinaries.pg_ctl!,
      ['start', '-w', '-t', '60', '-D', this.dataDir, '-l', join(this.dir, 'postgres.log'), '-o', options],
      runAs(),
    );
  }

  async stop(): Promise<void> {
    await run(clusterBinaries.pg_ctl!, ['stop', '-w', '-m', 'fast', '-D', this.dataDir], runAs());
  }

  async destroy(): Promise<void> {
    await this.stop().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }

  async sql<T = Record<string, unknown>>(text: string, database = 'postgres'): Promise<T[]> {
    const client = new Client({ connectionString: this.url(database) });
    await client.connect();
    try {
      return (await client.query(text)).rows as T[];
    } finally {
      await client.end();
    }
  }
}

/** pgbouncer in transaction pooling mode in front of `target` (any database on it), on a free port. */
export class Pgbouncer {
  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly child: ChildProcess,
  ) {}

  url(database: string, query = ''): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/${database}${query}`;
  }

  static async start(target: { host: string; port: number }, poolSize = 20): Promise<Pgbouncer> {
    const dir = ownedTempDir('cryb-pgbouncer-');
    const port = await freePort();
    writeFileSync(join(dir, 'userlist.txt'), '"postgres" ""\n');
    writeFileSync(
      join(dir, 'pgbouncer.ini'),
      [
        '[databases]',
        `* = host=${target.host} port=${target.port}`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${port}`,
        'unix_socket_dir =',
        'auth_type = trust',
        `auth_file = ${join(dir, 'userlist.txt')}`,
        'pool_mode = transaction',
        'max_client_conn = 500',
        `default_pool_size = ${poolSize}`,
        // node-postgres sends no such parameters, but psql and others do; pgbouncer rejects unknown ones.
        'ignore_startup_parameters = extra_float_digits,options',
        `logfile = ${join(dir, 'pgbouncer.log')}`,
        'admin_users = postgres',
        '',
      ].join('\n'),
    );
    const as = runAs();
    if (as.uid !== undefined)
      for (const f of ['userlist.txt', 'pgbouncer.ini']) chownSync(join(dir, f), as.uid, as.gid!);
    const child = spawn(pgbouncerBinary!, [join(dir, 'pgbouncer.ini')], { ...as, stdio: 'ignore' });
    const bouncer = new Pgbouncer(dir, port, child);
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`pgbouncer exited with ${child.exitCode}; see ${join(dir, 'pgbouncer.log')}`);
      try {
        const client = new Client({ connectionString: `postgresql://postgres@127.0.0.1:${port}/pgbouncer` });
        await client.connect();
        await client.end();
        return bouncer;
      } catch (error) {
        if (Date.now() > deadline)
          throw new Error(`pgbouncer did not accept connections: ${(error as Error).message}`, { cause: error });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** SHOW POOLS on the admin console: what pgbouncer itself says it served. */
  async pools(): Promise<Record<string, unknown>[]> {
    const client = new Client({ connectionString: this.url('pgbouncer') });
    await client.connect();
    try {
      // Without parameters pg uses the simple query protocol, the only one the admin console speaks.
      return (await client.query('SHOW POOLS')).rows;
    } finally {
      await client.end();
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGINT');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
