import { Client } from 'pg';
import { redactUrl } from '../../db/connection-options';
import {
  archivingFacts,
  cacheHitRatio,
  connectionFacts,
  metricsSample,
  migrationFacts,
  queryOf,
  relationFacts,
  replicationFacts,
  serverFacts,
  sessionFacts,
  slowestStatements,
  timescaleFacts,
} from './collect';
import {
  DEFAULT_THRESHOLDS,
  type Finding,
  type HealthLevel,
  type HealthReport,
  type HealthThresholds,
  type SystemMetricsSample,
} from './types';

export interface HealthOptions {
  /** The database to check (a direct URL or one through pgbouncer). */
  url: string;
  thresholds?: Partial<HealthThresholds>;
  /** Seconds to wait for a connection before calling the server unreachable. Default 5. */
  connectTimeoutSeconds?: number;
  /** Where the package's migrations live; defaults to the package's own. */
  migrationsDir?: string;
  /**
   * Called with the figures of a SystemMetrics row once the report is built (a reachable server
   * only), e.g. to insert the row. Its failure is a warning finding, not a crash.
   */
  record?: (metrics: SystemMetricsSample) => Promise<void>;
}

const RANK: Record<HealthLevel, number> = { ok: 0, warning: 1, critical: 2 };

function worst(findings: Finding[]): HealthLevel {
  return findings.reduce<HealthLevel>((level, f) => (RANK[f.level] > RANK[level] ? f.level : level), 'ok');
}

function above(value: number, warning: number, critical: number): HealthLevel {
  return value >= critical ? 'critical' : value >= warning ? 'warning' : 'ok';
}

/** Turns figures into findings by the thresholds; 'ok' findings are kept so a reader sees what was checked. */
export function evaluate(report: HealthReport, t: HealthThresholds): Finding[] {
  const findings: Finding[] = [];
  const add = (level: HealthLevel, check: string, message: string) => findings.push({ level, check, message });
  const c = report.connections;
  if (c)
    add(
      above(c.ratio, t.connectionsWarning, t.connectionsCritical),
      'connections',
      `${c.total} of max_connections ${c.max} in use (${(c.ratio * 100).toFixed(1)}%)`,
    );
  const hit = report.cacheHitRatio;
  if (hit !== undefined) {
    const level: HealthLevel =
      hit === null ? 'ok' : hit < t.cacheHitCritical ? 'critical' : hit < t.cacheHitWarning ? 'warning' : 'ok';
    add(
      level,
      'cache hit ratio',
      hit === null ? 'no blocks read yet' : `${(hit * 100).toFixed(2)}% of block reads served from shared buffers`,
    );
  }
  for (const s of report.longRunning ?? []) {
    add(
      above(s.seconds, t.longRunningWarningSeconds, t.longRunningCriticalSeconds),
      'long-running statement',
      `pid ${s.pid} running for ${s.seconds}s: ${s.query}`,
    );
  }
  for (const s of report.idleInTransaction ?? []) {
    add(
      above(s.seconds, t.idleInTransactionWarningSeconds, t.idleInTransactionCriticalSeconds),
      'idle in transaction',
      `pid ${s.pid} idle in an open transaction for ${s.seconds}s`,
    );
  }
  for (const s of report.locks?.blocked ?? []) {
    add(
      above(s.seconds, t.blockedWarningSeconds, t.blockedCriticalSeconds),
      'blocked query',
      `pid ${s.pid} waiting ${s.seconds}s on pid ${s.blockedBy.join(', ')}: ${s.query}`,
    );
  }
  const r = report.replication;
  if (r?.role === 'primary') {
    for (const replica of r.replicas) {
      const lag = replica.replayLagSeconds ?? 0;
      const level =
        replica.state !== 'streaming'
          ? 'warning'
          : above(lag, t.replicationLagWarningSeconds, t.replicationLagCriticalSeconds);
      add(
        level,
        'replication',
        `replica ${replica.applicationName} ${replica.state}, ${replica.lagBytes ?? '?'} bytes ` +
          `and ${lag.toFixed(1)}s behind`,
      );
    }
  }
  const a = report.archiving;
  if (a && a.mode !== 'off') {
    // A failure older than the last success has healed; a newer one means WAL is piling up unarchived.
    const failing =
      a.lastFailedAt !== null && (a.lastArchivedAt === null || new Date(a.lastFailedAt) > new Date(a.lastArchivedAt));
    add(
      failing ? 'critical' : 'ok',
      'wal archiving',
      failing
        ? `archive_command is failing (${a.failed} failures, last at ${a.lastFailedAt}): point-in-time recovery ` +
            `is at risk`
        : `${a.archived} WAL segments archived, last ${a.lastArchivedWal ?? 'none yet'}`,
    );
  }
  if (report.seqScanHeavyTables?.length) {
    add(
      'warning',
      'sequential scans',
      `${report.seqScanHeavyTables.map((s) => s.name).join(', ')} read mostly by sequential scans`,
    );
  }
  const m = report.migrations;
  if (m && 'pending' in m)
    add(
      m.pending.length ? 'warning' : 'ok',
      'migrations',
      m.pending.length ? `${m.pending.length} pending: ${m.pending.join(', ')}` : `${m.executed} applied, none pending`,
    );
  const ts = report.timescale;
  if (ts && 'jobs' in ts) {
    for (const job of ts.jobs.filter((j) => j.lastRunStatus === 'Failed' || j.totalFailures > 0)) {
      add(
        'warning',
        'timescaledb job',
        `job ${job.id} (${job.application}) last run ${job.lastRunStatus ?? 'never'}, ${job.totalFailures} failures` +
          (job.lastError ? `: ${job.lastError}` : '') +
          '; `npx cryb-db maintain` runs the policies with CALL run_job',
      );
    }
  }
  return findings;
}

function explainConnectionError(error: Error & { code?: string }, url: string): string {
  const host = (() => {
    try {
      return new URL(url).host;
    } catch {
      return url;
    }
  })();
  if (error.code === 'ECONNREFUSED')
    return (
      `the server at ${host} refused the connection: PostgreSQL is not running there (or not listening on ` +
      `that port)`
    );
  if (error.code === 'ENOTFOUND') return `the host of ${host} does not resolve`;
  if (/timeout/i.test(error.message)) return `no answer from ${host} within the connect timeout`;
  if (error.code === '57P03') return `the server at ${host} is starting up or shutting down: ${error.message}`;
  if (error.code === '3D000') return `${error.message} on ${host}`;
  return `cannot connect to ${host}: ${error.message}`;
}

/**
 * The report's figures and findings, read on a connection the caller holds (healthReport opens one;
 * the studio lends one of its pool's).
 */
export async function reportOn(
  client: Client,
  base: { checkedAt: string; target: string },
  thresholds: HealthThresholds,
  migrationsDir?: string,
): Promise<HealthReport> {
  const q = queryOf(client);
  const server = await serverFacts(q);
  const connections = await connectionFacts(q);
  const hit = await cacheHitRatio(q);
  const report: HealthReport = {
    ...base,
    status: 'ok',
    reachable: true,
    server,
    connections,
    cacheHitRatio: hit,
    findings: [],
  };
  const relations = await relationFacts(q, thresholds).catch((error: Error) => {
    report.findings.push({
      level: 'warning',
      check: 'sizes',
      message: `table and index sizes unavailable: ${error.message}`,
    });
    return {};
  });
  Object.assign(report, relations, await sessionFacts(q, thresholds));
  report.replication = await replicationFacts(q, server.inRecovery);
  report.archiving = await archivingFacts(q);
  report.slowestStatements = await slowestStatements(q, thresholds);
  report.timescale = await timescaleFacts(q).catch((error: Error) => ({
    available: false as const,
    reason: `timescaledb is installed but could not be read: ${error.message}`,
  }));
  report.migrations = await migrationFacts(q, migrationsDir);
  report.metrics = await metricsSample(q, server, connections, hit, thresholds.tpsSampleMs);
  report.findings = [...report.findings, ...evaluate(report, thresholds)];
  report.status = worst(report.findings);
  return report;
}

/**
 * Checks one database and its server, and says how healthy they are: `status` is the worst
 * finding (ok, warning or critical). A server that cannot be reached is a critical report, not an
 * exception, so a monitor gets an answer either way.
 */
export async function healthReport(options: HealthOptions): Promise<HealthReport> {
  const thresholds: HealthThresholds = { ...DEFAULT_THRESHOLDS, ...options.thresholds };
  const base = { checkedAt: new Date().toISOString(), target: redactUrl(options.url) };
  const client = new Client({
    connectionString: options.url,
    connectionTimeoutMillis: (options.connectTimeoutSeconds ?? 5) * 1000,
    application_name: 'cryb-health',
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    const message = explainConnectionError(error as Error & { code?: string }, options.url);
    return {
      ...base,
      status: 'critical',
      reachable: false,
      error: message,
      findings: [{ level: 'critical', check: 'server', message }],
    };
  }
  try {
    // A monitor must answer, not queue behind a migration's exclusive lock or hang on a stuck server.
    await client.query(`set lock_timeout = '1s'; set statement_timeout = '30s'`);
    const report = await reportOn(client, base, thresholds, options.migrationsDir);
    if (options.record) {
      await options.record(report.metrics!).catch((error: Error) =>
        report.findings.push({
          level: 'warning',
          check: 'record metrics',
          message: `recording the metrics failed: ${error.message}`,
        }),
      );
      report.status = worst(report.findings);
    }
    return report;
  } finally {
    await client.end().catch(() => undefined);
  }
}
