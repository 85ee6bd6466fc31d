import type { Client } from 'pg';
import { redactUrl } from '../db/connection-options';
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
} from '../ops/health/collect';
import { evaluate } from '../ops/health/report';
import { DEFAULT_THRESHOLDS, type HealthLevel, type HealthReport, type HealthThresholds } from '../ops/health/types';
import type { CrybOrm } from '../db/orm';

const RANK: Record<HealthLevel, number> = { ok: 0, warning: 1, critical: 2 };

/**
 * The Operations health report on a connection of the studio's pool, not a new connection per
 * request (healthReport opens its own: right for a monitor, wrong for a page anyone can reload).
 * The figures and findings are the Operations report's; the pool's statement_timeout bounds it.
 */
export async function studioHealthReport(orm: CrybOrm, target: string | null): Promise<HealthReport> {
  // No second sample for transactions per second: the panel answers at once.
  const thresholds: HealthThresholds = { ...DEFAULT_THRESHOLDS, tpsSampleMs: 0 };
  const base = { checkedAt: new Date().toISOString(), target: target ? redactUrl(target) : 'the studio pool' };
  const knexClient = orm.em.getConnection('write').getKnex().client as { acquireConnection(): Promise<Client>; releaseConnection(c: Client): Promise<void> };
  let client: Client;
  try {
    client = await knexClient.acquireConnection();
  } catch (error) {
    const message = `cannot connect: ${(error as Error).message}`;
    return { ...base, status: 'critical', reachable: false, error: message, findings: [{ level: 'critical', check: 'server', message }] };
  }
  try {
    const q = queryOf(client);
    const server = await serverFacts(q);
    const connections = await connectionFacts(q);
    const hit = await cacheHitRatio(q);
    const report: HealthReport = { ...base, status: 'ok', reachable: true, server, connections, cacheHitRatio: hit, findings: [] };
    const relations = await relationFacts(q, thresholds).catch((error: Error) => {
      report.findings.push({ level: 'warning', check: 'sizes', message: `table and index sizes unavailable: ${error.message}` });
      return {};
    });
    Object.assign(report, relations, await sessionFacts(q, thresholds));
    report.replication = await replicationFacts(q, server.inRecovery);
    report.archiving = await archivingFacts(q);
    report.slowestStatements = await slowestStatements(q, thresholds);
    report.timescale = await timescaleFacts(q).catch((error: Error) => ({ available: false as const, reason: `timescaledb is installed but could not be read: ${error.message}` }));
    report.migrations = await migrationFacts(q);
    report.metrics = await metricsSample(q, server, connections, hit, thresholds.tpsSampleMs);
    report.findings = [...report.findings, ...evaluate(report, thresholds)];
    report.status = report.findings.reduce<HealthLevel>((level, f) => (RANK[f.level] > RANK[level] ? f.level : level), 'ok');
    return report;
  } finally {
    await knexClient.releaseConnection(client);
  }
}
