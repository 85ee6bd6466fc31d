import { existsSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Client } from 'pg';
import type { HealthReport, HealthThresholds, SystemMetricsSample, TimescaleReport } from './types';

type Query = <T>(text: string, params?: unknown[]) => Promise<T[]>;

export function queryOf(client: Client): Query {
  return async <T>(text: string, params?: unknown[]) => (await client.query(text, params)).rows as T[];
}

const num = (value: unknown): number => Number(value ?? 0);
const SESSION_COLUMNS = `pid, usename as "user", datname as database, state, left(query, 200) as query`;

export async function serverFacts(q: Query): Promise<NonNullable<HealthReport['server']>> {
  const [row] = await q<Record<string, unknown>>(`
    select version() as version, current_setting('server_version_num')::int as "versionNumber",
           pg_postmaster_start_time() as "startedAt",
           extract(epoch from now() - pg_postmaster_start_time()) as uptime,
           current_database() as database, pg_database_size(current_database()) as size,
           pg_is_in_recovery() as "inRecovery"`);
  return {
    version: String(row.version),
    versionNumber: num(row.versionNumber),
    startedAt: new Date(row.startedAt as string).toISOString(),
    uptimeSeconds: Math.round(num(row.uptime)),
    database: String(row.database),
    databaseSizeBytes: num(row.size),
    inRecovery: Boolean(row.inRecovery),
  };
}

export async function connectionFacts(q: Query): Promise<NonNullable<HealthReport['connections']>> {
  const [row] = await q<Record<string, unknown>>(`
    select count(*) as total,
           count(*) filter (where state = 'active') as active,
           count(*) filter (where state = 'idle') as idle,
           count(*) filter (where state like 'idle in transaction%') as "idleInTransaction",
           current_setting('max_connections')::int as max,
           current_setting('superuser_reserved_connections')::int as reserved
      from pg_stat_activity where backend_type = 'client backend'`);
  const max = num(row.max);
  return {
    total: num(row.total),
    active: num(row.active),
    idle: num(row.idle),
    idleInTransaction: num(row.idleInTransaction),
    max,
    reservedForSuperuser: num(row.reserved),
    ratio: num(row.total) / max,
  };
}

export async function cacheHitRatio(q: Query): Promise<number | null> {
  const [row] = await q<{ hit: string; read: string }>(
    `select blks_hit as hit, blks_read as read from pg_stat_database where datname = current_database()`,
  );
  const total = num(row?.hit) + num(row?.read);
  return total === 0 ? null : num(row.hit) / total;
}

async function transactionCount(q: Query): Promise<{ count: number; resetSeconds: number | null }> {
  const [row] = await q<Record<string, unknown>>(`
    select xact_commit + xact_rollback as count, extract(epoch from now() - stats_reset) as reset
      from pg_stat_database where datname = current_database()`);
  return { count: num(row.count), resetSeconds: row.reset === null ? null : num(row.reset) };
}

/**
 * Two samples of the database's commit+rollback counters `sampleMs` apart. Backends publish their
 * counters about once a second, so a sample shorter than that reads mostly noise; with 0 the rate
 * is the average since the statistics were last reset.
 */
export async function metricsSample(
  q: Query,
  server: NonNullable<HealthReport['server']>,
  connections: NonNullable<HealthReport['connections']>,
  hit: number | null,
  sampleMs: number,
): Promise<SystemMetricsSample> {
  const first = await transactionCount(q);
  let tps: number;
  if (sampleMs > 0) {
    const started = Date.now();
    await new Promise((done) => setTimeout(done, sampleMs));
    const second = await transactionCount(q);
    tps = (second.count - first.count) / ((Date.now() - started) / 1000);
  } else {
    tps = first.resetSeconds ? first.count / first.resetSeconds : 0;
  }
  return {
    timestamp: new Date(),
    databaseSizeBytes: server.databaseSizeBytes,
    connections: connections.total,
    activeConnections: connections.active,
    maxConnections: connections.max,
    cacheHitRatio: hit,
    transactionsPerSecond: Math.max(0, Math.round(tps * 100) / 100),
  };
}

/**
 * Sizes need a share lock on each relation, so relations someone holds exclusively (a migration,
 * a VACUUM FULL) are left out rather than waited for; the session's lock_timeout covers the race.
 */
export async function relationFacts(q: Query, t: HealthThresholds) {
  const largestTables = await q<{
    name: string;
    bytes: string;
    tableBytes: string;
    indexBytes: string;
    rowEstimate: string;
  }>(
    `select format('%I.%I', n.nspname, c.relname) as name, pg_total_relation_size(c.oid) as bytes,
            pg_table_size(c.oid) as "tableBytes", pg_indexes_size(c.oid) as "indexBytes", greatest(c.reltuples,
              0)::bigint as "rowEstimate"
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p', 'm') and n.nspname not in ('pg_catalog', 'information_schema')
        and n.nspname not like 'pg_toast%'
        and n.nspname not like '\\_timescaledb%'
        and not exists (select 1 from pg_locks l where l.relation = c.oid and l.mode = 'AccessExclusiveLock')
      order by pg_total_relation_size(c.oid) desc limit $1`,
    [t.top],
  );
  const largestIndexes = await q<{ name: string; table: string; bytes: string }>(
    `select format('%I.%I', schemaname, indexrelname) as name, format('%I.%I', schemaname, relname) as table,
      pg_relation_size(indexrelid) as bytes
       from pg_stat_user_indexes s
      where s.schemaname not like '\\_timescaledb%'
        and not exists (select 1 from pg_locks l where l.relation in (s.relid, s.indexrelid)
          and l.mode = 'AccessExclusiveLock')
      order by pg_relation_size(indexrelid) desc limit $1`,
    [t.top],
  );
  // Unique and primary-key indexes enforce rules even when no query reads them.
  const unusedIndexes = await q<{ name: string; table: string; bytes: string }>(
    `select format('%I.%I', s.schemaname, s.indexrelname) as name, format('%I.%I', s.schemaname, s.relname) as table,
      pg_relation_size(s.indexrelid) as bytes
       from pg_stat_user_indexes s join pg_index i on i.indexrelid = s.indexrelid
      where s.idx_scan = 0 and not i.indisunique and not i.indisprimary and s.schemaname not like '\\_timescaledb%'
        and not exists (select 1 from pg_locks l where l.relation in (s.relid, s.indexrelid)
          and l.mode = 'AccessExclusiveLock')
      order by pg_relation_size(s.indexrelid) desc, s.indexrelname`,
  );
  const seqScanHeavyTables = await q<{ name: string; seqScans: string; indexScans: string; liveRows: string }>(
    `select format('%I.%I', schemaname, relname) as name, seq_scan as "seqScans", coalesce(idx_scan, 0) as "indexScans",
      n_live_tup as "liveRows"
       from pg_stat_user_tables
      where n_live_tup >= $1 and seq_scan > coalesce(idx_scan, 0) and schemaname not like '\\_timescaledb%'
      order by seq_scan * n_live_tup desc limit $2`,
    [t.seqScanMinRows, t.top],
  );
  return {
    largestTables: largestTables.map((r) => ({
      name: r.name,
      bytes: num(r.bytes),
      tableBytes: num(r.tableBytes),
      indexBytes: num(r.indexBytes),
      rowEstimate: num(r.rowEstimate),
    })),
    largestIndexes: largestIndexes.map((r) => ({ name: r.name, table: r.table, bytes: num(r.bytes) })),
    unusedIndexes: unusedIndexes.map((r) => ({ name: r.name, table: r.table, bytes: num(r.bytes) })),
    seqScanHeavyTables: seqScanHeavyTables.map((r) => ({
      name: r.name,
      seqScans: num(r.seqScans),
      indexScans: num(r.indexScans),
      liveRows: num(r.liveRows),
    })),
  };
}

interface SessionRow {
  pid: number;
  user: string | null;
  database: string | null;
  state: string | null;
  query: string;
  seconds: string;
  blockedBy?: number[];
}
const session = (r: SessionRow) => ({
  pid: r.pid,
  user: r.user,
  database: r.database,
  state: r.state,
  seconds: Math.round(num(r.seconds)),
  query: r.query,
});

export async function sessionFacts(q: Query, t: HealthThresholds) {
  const longRunning = await q<SessionRow>(
    `select ${SESSION_COLUMNS}, extract(epoch from now() - query_start) as seconds from pg_stat_activity
      where state = 'active' and pid <> pg_backend_pid() and backend_type = 'client backend'
        and now() - query_start > make_interval(secs => $1) order by query_start`,
    [t.longRunningWarningSeconds],
  );
  const idleInTransaction = await q<SessionRow>(
    `select ${SESSION_COLUMNS}, extract(epoch from now() - state_change) as seconds from pg_stat_activity
      where state like 'idle in transaction%' and now() - state_change > make_interval(secs => $1)
        order by state_change`,
    [t.idleInTransactionWarningSeconds],
  );
  const blocked = await q<SessionRow>(
    `select ${SESSION_COLUMNS}, extract(epoch from now() - coalesce(query_start, state_change)) as seconds,
      pg_blocking_pids(pid) as "blockedBy"
       from pg_stat_activity where cardinality(pg_blocking_pids(pid)) > 0 order by query_start`,
  );
  const [{ waiting }] = await q<{ waiting: string }>(`select count(*) as waiting from pg_locks where not granted`);
  return {
    longRunning: longRunning.map(session),
    idleInTransaction: idleInTransaction.map(session),
    locks: { waiting: num(waiting), blocked: blocked.map((r) => ({ ...session(r), blockedBy: r.blockedBy ?? [] })) },
  };
}

export async function replicationFacts(
  q: Query,
  inRecovery: boolean,
): Promise<NonNullable<HealthReport['replication']>> {
  if (inRecovery) {
    // On a replica: how far behind the last replayed transaction is (grows while the primary is idle too).
    const [row] = await q<{ delay: string | null }>(
      `select extract(epoch from now() - pg_last_xact_replay_timestamp()) as delay`,
    );
    return { role: 'replica', replicas: [], replayDelaySeconds: row.delay === null ? null : num(row.delay) };
  }
  const rows = await q<{
    applicationName: string;
    clientAddress: string | null;
    state: string;
    lagBytes: string | null;
    replayLag: string | null;
  }>(
    `select application_name as "applicationName", client_addr::text as "clientAddress", state,
            pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) as "lagBytes", extract(epoch
              from replay_lag) as "replayLag"
       from pg_stat_replication order by application_name`,
  );
  return {
    role: 'primary',
    replicas: rows.map((r) => ({
      applicationName: r.applicationName,
      clientAddress: r.clientAddress,
      state: r.state,
      lagBytes: r.lagBytes === null ? null : num(r.lagBytes),
      replayLagSeconds: r.replayLag === null ? null : num(r.replayLag),
    })),
    replayDelaySeconds: null,
  };
}

export async function archivingFacts(q: Query): Promise<NonNullable<HealthReport['archiving']>> {
  const [row] = await q<Record<string, string | null>>(
    `select current_setting('archive_mode') as mode, archived_count as archived, last_archived_wal as "lastWal",
            last_archived_time::text as "lastAt", failed_count as failed, last_failed_time::text as "failedAt"
       from pg_stat_archiver`,
  );
  return {
    mode: String(row.mode),
    archived: num(row.archived),
    lastArchivedWal: row.lastWal,
    lastArchivedAt: row.lastAt,
    failed: num(row.failed),
    lastFailedAt: row.failedAt,
  };
}

async function extensionVersion(q: Query, name: string): Promise<string | null> {
  const rows = await q<{ extversion: string }>(`select extversion from pg_extension where extname = $1`, [name]);
  return rows[0]?.extversion ?? null;
}

export async function slowestStatements(
  q: Query,
  t: HealthThresholds,
): Promise<NonNullable<HealthReport['slowestStatements']>> {
  if (!(await extensionVersion(q, 'pg_stat_statements'))) {
    return {
      available: false,
      reason:
        'pg_stat_statements is not installed in this database (shared_preload_libraries = pg_stat_statements, then ' +
        'CREATE EXTENSION pg_stat_statements)',
    };
  }
  try {
    const rows = await q<{ query: string; calls: string; meanMs: string; totalMs: string }>(
      `select left(query, 200) as query, calls, mean_exec_time as "meanMs", total_exec_time as "totalMs"
         from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database())
        order by mean_exec_time desc limit $1`,
      [t.top],
    );
    return {
      available: true,
      statements: rows.map((r) => ({
        query: r.query,
        calls: num(r.calls),
        meanMs: num(r.meanMs),
        totalMs: num(r.totalMs),
      })),
    };
  } catch (error) {
    // The extension exists but the library was not preloaded: the view refuses to answer.
    return { available: false, reason: (error as Error).message };
  }
}

export async function timescaleFacts(q: Query): Promise<TimescaleReport | { available: false; reason: string }> {
  const version = await extensionVersion(q, 'timescaledb');
  if (!version) return { available: false, reason: 'the timescaledb extension is not installed in this database' };
  const hypertables = await q<{ schema: string; name: string; chunks: string; compression: boolean }>(
    `select hypertable_schema as schema, hypertable_name as name, num_chunks as chunks,
      compression_enabled as compression
       from timescaledb_information.hypertables order by 1, 2`,
  );
  const withStats = [];
  for (const h of hypertables) {
    const qualified = `${JSON.stringify(h.schema)}.${JSON.stringify(h.name)}`;
    const [stats] = h.compression
      ? await q<{ before: string | null; after: string | null }>(
          `select sum(before_compression_total_bytes) as before, sum(after_compression_total_bytes) as after
            from hypertable_compression_stats($1::regclass)`,
          [qualified],
        )
      : [{ before: null, after: null }];
    const before = stats?.before === null || stats?.before === undefined ? null : num(stats.before);
    const after = stats?.after === null || stats?.after === undefined ? null : num(stats.after);
    withStats.push({
      name: `${h.schema}.${h.name}`,
      chunks: num(h.chunks),
      compressionEnabled: h.compression,
      beforeBytes: before,
      afterBytes: after,
      ratio: before && after ? before / after : null,
    });
  }
  // job_errors (TimescaleDB 2.9+) keeps each failure's message: the reason a job fails, not just that it does.
  const [{ hasErrors }] = await q<{ hasErrors: boolean }>(
    `select to_regclass('timescaledb_information.job_errors') is not null as "hasErrors"`,
  );
  const lastError = hasErrors
    ? `(select e.err_message from timescaledb_information.job_errors e where e.job_id = j.job_id
      order by e.finish_time desc nulls last limit 1)`
    : 'null::text';
  const jobs = await q<{
    id: number;
    application: string;
    hypertable: string | null;
    jobStatus: string | null;
    lastRun: string | null;
    failures: string | null;
    lastStart: string | null;
    nextStart: string | null;
    lastError: string | null;
  }>(
    `select j.job_id as id, j.application_name as application, j.hypertable_name as hypertable,
      s.job_status as "jobStatus",
            s.last_run_status as "lastRun", s.total_failures as failures, s.last_run_started_at::text as "lastStart",
              s.next_start::text as "nextStart",
            ${lastError} as "lastError"
       from timescaledb_information.jobs j left join timescaledb_information.job_stats s using (job_id)
         order by j.job_id`,
  );
  return {
    version,
    hypertables: withStats,
    jobs: jobs.map((j) => ({
      id: j.id,
      application: j.application,
      hypertable: j.hypertable,
      jobStatus: j.jobStatus,
      lastRunStatus: j.lastRun,
      totalFailures: num(j.failures),
      lastRunStartedAt: j.lastStart,
      nextStart: j.nextStart,
      lastError: j.lastError,
    })),
  };
}

/** The package's own migrations folder: src/migrations running TypeScript, dist/src/migrations compiled. */
export const MIGRATIONS_DIR = resolve(__dirname, '..', '..', 'migrations');

/**
 * Migration names the package ships that the database has not applied (the migrator's own naming:
 * file name without extension).
 */
export async function migrationFacts(q: Query, dir = MIGRATIONS_DIR): Promise<NonNullable<HealthReport['migrations']>> {
  if (!existsSync(dir)) return { available: false, reason: `no migrations folder at ${dir}` };
  const shipped = readdirSync(dir)
    .filter((f) => /\.(js|ts)$/.test(f) && !f.endsWith('.d.ts'))
    .map((f) => f.replace(/\.(js|ts)$/, ''))
    .sort();
  const [{ exists }] = await q<{ exists: boolean }>(`select to_regclass('mikro_orm_migrations') is not null as exists`);
  const executed = exists
    ? (await q<{ name: string }>(`select name from mikro_orm_migrations`)).map((r) => r.name.replace(/\.(js|ts)$/, ''))
    : [];
  const done = new Set(executed);
  return { executed: executed.length, pending: shipped.filter((name) => !done.has(name)) };
}
