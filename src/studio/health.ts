import type { Client } from 'pg';
import { redactUrl } from '../db/connection-options';
import { reportOn } from '../ops/health/report';
import { DEFAULT_THRESHOLDS, type HealthReport, type HealthThresholds } from '../ops/health/types';
import type { CrybOrm } from '../db/orm';

/**
 * The Operations health report on a connection of the studio's pool, not a new connection per
 * request (healthReport opens its own: right for a monitor, wrong for a page anyone can reload).
 * The figures and findings are the Operations report's; the pool's statement_timeout bounds it.
 */
export async function studioHealthReport(orm: CrybOrm, target: string | null): Promise<HealthReport> {
  // No second sample for transactions per second: the panel answers at once.
  const thresholds: HealthThresholds = { ...DEFAULT_THRESHOLDS, tpsSampleMs: 0 };
  const base = { checkedAt: new Date().toISOString(), target: target ? redactUrl(target) : 'the studio pool' };
  const knexClient = orm.em.getConnection('write').getKnex().client as {
    acquireConnection(): Promise<Client>;
    releaseConnection(c: Client): Promise<void>;
  };
  let client: Client;
  try {
    client = await knexClient.acquireConnection();
  } catch (error) {
    const message = `cannot connect: ${(error as Error).message}`;
    return {
      ...base,
      status: 'critical',
      reachable: false,
      error: message,
      findings: [{ level: 'critical', check: 'server', message }],
    };
  }
  try {
    return await reportOn(client, base, thresholds);
  } finally {
    await knexClient.releaseConnection(client);
  }
}
