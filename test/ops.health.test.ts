import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { EmbeddedServer, freePort } from '../src/db/embedded-server';
import { healthReport } from '../src/ops/health/report';
import type { SystemMetricsSample } from '../src/ops/health/types';
import { useTestDatabase } from './support/db';

const db = useTestDatabase();
const ROOT = resolve(__dirname, '..');
const execute = promisify(execFile);
const clients: Client[] = [];
/**
 * Every figure judged ok, so a test can switch on exactly the finding it is about. Other test files
 * share the server (their pools, their lock waits), so connection and session limits are lifted too.
 */
const CALM = {
  cacheHitWarning: 0,
  cacheHitCritical: 0,
  tpsSampleMs: 0,
  connectionsWarning: 2,
  connectionsCritical: 2,
  longRunningWarningSeconds: 86_400,
  longRunningCriticalSeconds: 86_400,
  idleInTransactionWarningSeconds: 86_400,
  idleInTransactionCriticalSeconds: 86_400,
  blockedWarningSeconds: 86_400,
  blockedCriticalSeconds: 86_400,
};
const CALM_FLAGS = Object.entries(CALM).map(
  ([name, value]) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}=${value}`,
);

async function session(): Promise<Client> {
  const client = new Client({ connectionString: db().url });
  client.on('error', () => undefined);
  await client.connect();
  clients.push(client);
  return client;
}

afterAll(async () => {
  for (const client of clients) await client.end().catch(() => undefined);
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  return execute(
    process.execPath,
    [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'scripts/ops.ts'), ...args],
    { cwd: ROOT, env },
  ).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      stdout: error.stdout,
      stderr: error.stderr,
    }),
  );
}

describe('health report on a live server', () => {
  it('reports version, uptime, connections, sizes, indexes and migrations, and is ok with calm thresholds', async () => {
    const report = await healthReport({ url: db().url, thresholds: CALM });
    expect(report).toMatchObject({ status: 'ok', reachable: true });
    expect(report.server!.versionNumber).toBeGreaterThanOrEqual(150000);
    expect(report.server!.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(report.server!.database).toBe(db().name);
    expect(report.connections!.total).toBeGreaterThanOrEqual(1);
    expect(report.connections!.ratio).toBeCloseTo(report.connections!.total / report.connections!.max);
    expect(report.largestTables!.length).toBeGreaterThan(0);
    expect(report.largestIndexes!.length).toBeGreaterThan(0);
    expect(report.migrations).toMatchObject({ pending: [] });
    expect((report.migrations as { executed: number }).executed).toBeGreaterThan(0);
    expect(report.slowestStatements).toHaveProperty('available');
    expect(report.timescale).toHaveProperty('available', false);
    expect(report.findings.every((f) => f.level === 'ok')).toBe(true);
  });

  it('finds sequential-scan heavy tables and unused indexes from the statistics', async () => {
    const reader = await session();
    for (let i = 0; i < 5; i++) await reader.query('select count(*) from "User"');
    // Backends publish their statistics at most once a second unless told to now.
    await reader.query('select pg_stat_force_next_flush()');
    await reader.query('select 1');
    const report = await healthReport({ url: db().url, thresholds: { ...CALM, seqScanMinRows: 0, top: 50 } });
    expect(report.seqScanHeavyTables!.map((t) => t.name)).toContain('public."User"');
    expect(report.findings).toContainEqual(expect.objectContaining({ check: 'sequential scans', level: 'warning' }));
    expect(report.status).toBe('warning');
    expect(report.unusedIndexes!.length).toBeGreaterThan(0);
  });

  it('reports idle-in-transaction sessions, long-running statements and blocked queries against their thresholds', async () => {
    const idle = await session();
    await idle.query('begin');
    await idle.query(`select id from "User" limit 1`);
    const holder = await session();
    await holder.query('begin');
    await holder.query('lock table "Server" in access exclusive mode');
    const waiter = await session();
    const blocked = waiter.query('select count(*) from "Server"').catch(() => undefined);
    const sleeper = await session();
    const sleeping = sleeper.query('select pg_sleep(3)').catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1200));

    const report = await healthReport({
      url: db().url,
      thresholds: {
        ...CALM,
        idleInTransactionWarningSeconds: 0.5,
        idleInTransactionCriticalSeconds: 3600,
        longRunningWarningSeconds: 0.5,
        longRunningCriticalSeconds: 1,
        blockedWarningSeconds: 0.5,
        blockedCriticalSeconds: 3600,
      },
    });
    const pids = async (c: Client) => (await c.query('select pg_backend_pid() as pid')).rows[0].pid as number;
    expect(report.idleInTransaction!.map((s) => s.pid)).toEqual(
      expect.arrayContaining([await pids(idle), await pids(holder)]),
    );
    expect(report.locks!.waiting).toBeGreaterThanOrEqual(1);
    const holderPid = await pids(holder);
    expect(report.locks!.blocked).toContainEqual(
      expect.objectContaining({ blockedBy: [holderPid], query: expect.stringContaining('"Server"') }),
    );
    expect(report.longRunning!.map((s) => s.query)).toContainEqual(expect.stringContaining('pg_sleep(3)'));
    expect(report.findings).toContainEqual(
      expect.objectContaining({ check: 'long-running statement', level: 'critical' }),
    );
    expect(report.findings).toContainEqual(expect.objectContaining({ check: 'idle in transaction', level: 'warning' }));
    expect(report.findings).toContainEqual(expect.objectContaining({ check: 'blocked query', level: 'warning' }));
    expect(report.status).toBe('critical');

    await holder.query('rollback');
    await idle.query('rollback');
    await Promise.all([blocked, sleeping]);
  });

  it('hands the SystemMetrics figures to record, with transactions per second from two samples', async () => {
    const recorded: SystemMetricsSample[] = [];
    const load = await session();
    let running = true;
    const busy = (async () => {
      while (running) await load.query('select 1');
    })();
    const report = await healthReport({
      url: db().url,
      thresholds: { ...CALM, tpsSampleMs: 2500 },
      record: async (m) => void recorded.push(m),
    });
    running = false;
    await busy;
    expect(recorded).toEqual([report.metrics]);
    const m = recorded[0];
    expect(m.timestamp).toBeInstanceOf(Date);
    expect(m.databaseSizeBytes).toBe(report.server!.databaseSizeBytes);
    expect(m.databaseSizeBytes).toBeGreaterThan(1_000_000);
    expect(m.connections).toBeGreaterThanOrEqual(2);
    expect(m.transactionsPerSecond).toBeGreaterThan(10);

    const failing = await healthReport({
      url: db().url,
      thresholds: CALM,
      record: async () => Promise.reject(new Error('no SystemMetrics table')),
    });
    expect(failing.findings).toContainEqual({
      level: 'warning',
      check: 'record metrics',
      message: 'recording the metrics failed: no SystemMetrics table',
    });
    expect(failing.status).toBe('warning');
  });
});

const TIMESCALE_URL = process.env.CRYB_TIMESCALE_URL;

describe('health report with TimescaleDB', () => {
  it.skipIf(!TIMESCALE_URL)(
    `reports hypertables, chunks, the compression ratio and ` +
      `jobs${TIMESCALE_URL ? '' : ' (skipped: set CRYB_TIMESCALE_URL to a TimescaleDB server)'}`,
    async () => {
      const name = `cryb_t_${db().name.split('_').slice(2).join('_')}_tsdb`;
      const admin = new Client({ connectionString: TIMESCALE_URL });
      await admin.connect();
      await admin.query(`create database "${name}"`);
      const url = Object.assign(new URL(TIMESCALE_URL!), { pathname: `/${name}` }).toString();
      const client = new Client({ connectionString: url });
      try {
        await client.connect();
        await client.query('create extension timescaledb');
        await client.query('create table samples (ts timestamptz not null, device int, value double precision)');
        await client.query(`select create_hypertable('samples', 'ts', chunk_time_interval => interval '1 day')`);
        await client.query(
          `insert into samples select t, (random() * 10)::int, random() from generate_series(now() - interval '5 days',
            now(), interval '10 seconds') t`,
        );
        await client.query(`alter table samples set (timescaledb.compress, timescaledb.compress_segmentby = 'device')`);
        await client.query(`select add_compression_policy('samples', interval '2 days')`);
        await client.query(`select compress_chunk(c) from show_chunks('samples', older_than => interval '2 days') c`);
        const report = await healthReport({ url, thresholds: CALM });
        const ts = report.timescale as Exclude<NonNullable<typeof report.timescale>, { available: false }>;
        expect(ts.version).toMatch(/^2\./);
        expect(ts.hypertables).toEqual([expect.objectContaining({ name: 'public.samples', compressionEnabled: true })]);
        expect(ts.hypertables[0].chunks).toBeGreaterThanOrEqual(5);
        expect(ts.hypertables[0].ratio).toBeGreaterThan(1);
        expect(ts.jobs).toContainEqual(expect.objectContaining({ hypertable: 'samples', totalFailures: 0 }));
      } finally {
        await client.end().catch(() => undefined);
        await admin.query(`drop database if exists "${name}" with (force)`);
        await admin.end();
      }
    },
  );
});

describe('health report on a server that is down', () => {
  it('a stopped embedded server: critical, unreachable, and it says why', async () => {
    const server = new EmbeddedServer({
      baseDir: mkdtempSync(join(tmpdir(), 'cryb-health-')),
      port: await freePort(),
      log: () => undefined,
    });
    try {
      await server.start();
      expect(await healthReport({ url: server.url, thresholds: CALM })).toMatchObject({ reachable: true });
      await server.stop();
      const report = await healthReport({ url: server.url });
      expect(report).toMatchObject({ status: 'critical', reachable: false });
      expect(report.error).toContain('refused the connection: PostgreSQL is not running there');
      expect(report.findings).toEqual([{ level: 'critical', check: 'server', message: report.error }]);
    } finally {
      await server.destroy();
    }
  });
});

describe('npm run db:health', () => {
  it('exits 0 when healthy, 1 on a warning, 2 when the server is down, 3 on bad usage; --json is the report', async () => {
    const calm = [...CALM_FLAGS, '--seq-scan-min-rows=1000000000'];
    const healthy = await cli(['health', `--url=${db().url}`, '--json', ...calm]);
    expect(healthy.code, healthy.stderr).toBe(0);
    expect(JSON.parse(healthy.stdout)).toMatchObject({
      status: 'ok',
      reachable: true,
      server: { database: db().name },
    });

    // --record writes the figures as a SystemMetrics row (the analytics table).
    const before = Number((await db().sql<{ n: string }>('select count(*) as n from "SystemMetrics"'))[0].n);
    const recorded = await cli(['health', `--url=${db().url}`, '--json', '--record', ...calm]);
    expect(recorded.code, recorded.stderr).toBe(0);
    const [row] = await db().sql<{ n: string; size: string }>(
      'select count(*) as n, max("databaseSizeBytes")::text as size from "SystemMetrics"',
    );
    expect(Number(row.n)).toBe(before + 1);
    expect(row.size).toBe(String(JSON.parse(recorded.stdout).metrics.databaseSizeBytes));

    const idle = await session();
    await idle.query('begin');
    await idle.query('select 1');
    await new Promise((r) => setTimeout(r, 1100));
    const warning = await cli(['health', `--url=${db().url}`, ...calm, '--idle-in-transaction-warning-seconds=1']);
    await idle.query('rollback');
    expect(warning.code, warning.stderr).toBe(1);
    expect(warning.stdout).toMatch(/^database health: WARNING/);
    expect(warning.stdout).toMatch(/WARN idle in transaction: pid \d+ idle in an open transaction/);

    const down = await cli(['health', `--url=postgresql://postgres@127.0.0.1:${await freePort()}/cryb`]);
    expect(down.code).toBe(2);
    expect(down.stdout).toMatch(/CRITICAL[\s\S]*refused the connection/);

    const bad = await cli(['health', '--connections-warning=lots']);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('--connections-warning must be a number >= 0 (got "lots")');
  });
});
