import { stripVTControlCharacters } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrm, migrate, type CrybOrm } from '../src/db/orm';
import { readConnection, readOptions, readQueryBuilder } from '../src/db/read-replicas';
import { transact } from '../src/db/unit-of-work';
import { User } from '../src/entities/user/User';
import { healthReport } from '../src/ops/health/report';
import { Cluster, missingClusterBinaries } from './support/clusters';
import { UserService } from '../src/identity/user-service';

/**
 * A real primary and a streaming replica on loopback (initdb, pg_basebackup -R, a second port),
 * with the ORM configured as a service would be: DATABASE_URL's primary plus DATABASE_REPLICA_URLS.
 */

const skipReason = missingClusterBinaries
  ? ` (skipped: ${missingClusterBinaries} not found; install postgresql-15 and postgresql-client-15)`
  : '';
let primary: Cluster | undefined;
let replica: Cluster | undefined;
let orm: CrybOrm;
const log: string[] = [];
const plain = (line: string) => stripVTControlCharacters(line);
const queriesLike = (pattern: RegExp) => log.map(plain).filter((line) => pattern.test(line));

async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(Boolean(missingClusterBinaries))(`read replicas on two real clusters${skipReason}`, () => {
  beforeAll(async () => {
    primary = await Cluster.primary({ shared_preload_libraries: 'pg_stat_statements' });
    await primary.sql('create database cryb');
    await primary.sql('create extension pg_stat_statements', 'cryb');
    replica = await Cluster.replicaOf(primary);
    orm = await createOrm({
      clientUrl: primary.url('cryb'),
      replicaUrls: [replica.url('cryb')],
      poolSize: 4,
      migrations: 'ignore',
      debug: true,
      logger: (line) => log.push(line),
    });
    await migrate(orm);
    // The replica replays the migrations asynchronously: wait until it has reached the primary's WAL
    // position, or a query in the first test may find no "User" table yet.
    const [{ lsn }] = await primary.sql<{ lsn: string }>(`select pg_current_wal_lsn()::text as lsn`, 'cryb');
    await eventually(async () => {
      const [row] = await replica!.sql<{ caught: boolean }>(
        `select pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn as caught`,
        'cryb',
      );
      return row?.caught ? true : undefined;
    }, 'the replica to replay the migrations');
  }, 120_000);

  afterAll(async () => {
    await orm?.close(true);
    await replica?.destroy();
    await primary?.destroy();
  });

  it('the read connection is the replica (in recovery, its port); the default connection is the primary', async () => {
    const em = orm.em.fork();
    const [read] = await readConnection(em).execute<{ recovery: boolean; port: number }[]>(
      'select pg_is_in_recovery() as recovery, inet_server_port() as port',
    );
    const [write] = await em
      .getConnection()
      .execute<{ recovery: boolean; port: number }[]>(
        'select pg_is_in_recovery() as recovery, inet_server_port() as port',
      );
    expect(read).toEqual({ recovery: true, port: replica!.port });
    expect(write).toEqual({ recovery: false, port: primary!.port });
  });

  it('a registration writes on the primary and arrives on the replica, where read queries find it', async () => {
    log.length = 0;
    const user = await new UserService(orm.em.fork()).register({ username: 'Replicated' });
    expect(queriesLike(/insert into "User"/).every((line) => line.includes('via write connection'))).toBe(true);
    expect(queriesLike(/insert into "User"/)).toHaveLength(1);

    // Streaming replication is asynchronous: the row shows up on the replica a moment later.
    const row = await eventually(async () => {
      const rows = await readQueryBuilder(orm.em.fork(), User, 'u')
        .select(['id', 'username'])
        .where({ id: user.id })
        .execute();
      return rows[0];
    }, 'the registration to reach the replica');
    expect(row).toMatchObject({ id: user.id, username: 'Replicated' });
    expect(await replica!.sql(`select username from "User" where id = ${user.id}`, 'cryb')).toEqual([
      { username: 'Replicated' },
    ]);

    log.length = 0;
    const found = await orm.em.fork().find(User, { id: user.id }, readOptions);
    expect(found.map((u) => u.username)).toEqual(['Replicated']);
    expect(queriesLike(/from "User"/)).toEqual([expect.stringContaining("via read connection 'replica-1'")]);
  });

  it('without readOptions, and inside a transaction even with them, reads go to the primary (read-your-writes)', async () => {
    const user = await new UserService(orm.em.fork()).register({ username: 'Fresh' });
    log.length = 0;
    // Read right after the write through the default connection: always there, however far the replica lags.
    expect(await orm.em.fork().findOne(User, user.id)).not.toBeNull();
    await transact(orm.em.fork(), async (tx) => {
      expect(await tx.find(User, { id: user.id }, readOptions)).toHaveLength(1);
    });
    const reads = queriesLike(/from "User"/);
    expect(reads).toHaveLength(2);
    for (const line of reads) expect(line).toContain('via write connection');
  });

  it('the replica refuses writes, so a write routed there by mistake fails loudly', async () => {
    await expect(readConnection(orm.em.fork()).execute(`update "User" set "bio" = 'x'`)).rejects.toThrow(
      /read-only transaction/,
    );
  });

  it('the health report on the primary shows the streaming replica and pg_stat_statements; on the replica its role; on the stopped replica, unreachable', async () => {
    const onPrimary = await healthReport({ url: primary!.url('cryb'), thresholds: { tpsSampleMs: 0 } });
    expect(onPrimary.reachable).toBe(true);
    expect(onPrimary.replication?.role).toBe('primary');
    expect(onPrimary.replication?.replicas).toEqual([
      expect.objectContaining({ state: 'streaming', applicationName: expect.any(String) }),
    ]);
    expect(onPrimary.replication?.replicas[0].lagBytes).toBeGreaterThanOrEqual(0);
    expect(onPrimary.findings).toContainEqual(expect.objectContaining({ check: 'replication', level: 'ok' }));
    expect(onPrimary.slowestStatements).toMatchObject({ available: true });
    expect((onPrimary.slowestStatements as { statements: unknown[] }).statements.length).toBeGreaterThan(0);
    expect(onPrimary.migrations).toMatchObject({ pending: [] });

    const onReplica = await healthReport({ url: replica!.url('cryb'), thresholds: { tpsSampleMs: 0 } });
    expect(onReplica.server?.inRecovery).toBe(true);
    expect(onReplica.replication).toMatchObject({ role: 'replica' });

    await replica!.stop();
    const stopped = await healthReport({ url: replica!.url('cryb') });
    expect(stopped).toMatchObject({ status: 'critical', reachable: false });
    expect(stopped.error).toMatch(/refused the connection: PostgreSQL is not running there/);
  });
});
