/**
 * cryb-db maintain: the analytics upkeep, safe to run from cron. On TimescaleDB it runs the
 * compression, retention and continuous-aggregate refresh policies itself with CALL run_job (the
 * background scheduler of TimescaleDB 2.28 on PostgreSQL 15 fails every job with "cannot drop
 * portal", while run_job works); on plain PostgreSQL it applies the fallback's retention.
 */
import { Client } from 'pg';
import { connectTimeoutMs, describeConnectFailure } from '../db/connection-check';
import { DatabaseUnavailable } from '../domain/errors';

export interface MaintenanceStep {
  name: string;
  ok: boolean;
  /** What it did, or why it failed. */
  detail: string;
  ms: number;
}

export interface MaintenanceReport {
  path: 'timescaledb' | 'postgresql';
  steps: MaintenanceStep[];
  ok: boolean;
}

const POLICIES = ['policy_compression', 'policy_retention', 'policy_refresh_continuous_aggregate'];

export async function runMaintenance(url: string): Promise<MaintenanceReport> {
  const client = new Client({
    connectionString: url,
    connectionTimeoutMillis: connectTimeoutMs(),
    application_name: 'cryb-maintain',
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    throw new DatabaseUnavailable(describeConnectFailure(error, url));
  }
  try {
    const steps: MaintenanceStep[] = [];
    const step = async (name: string, work: () => Promise<string>) => {
      const started = Date.now();
      try {
        steps.push({ name, ok: true, detail: await work(), ms: Date.now() - started });
      } catch (error) {
        steps.push({ name, ok: false, detail: (error as Error).message.split('\n')[0], ms: Date.now() - started });
      }
    };
    const timescale = (await client.query(`select 1 from pg_extension where extname = 'timescaledb'`)).rowCount === 1;
    if (timescale) {
      const jobs = await client.query<{ id: number; proc: string; target: string | null }>(
        `select job_id as id, proc_name as proc, hypertable_name as target from timescaledb_information.jobs
          where proc_name = any($1) order by job_id`,
        [POLICIES],
      );
      if (jobs.rowCount === 0)
        steps.push({
          name: 'policies',
          ok: false,
          detail: 'no compression, retention or refresh policy is defined: run `npx cryb-db migrate`',
          ms: 0,
        });
      // One CALL per job, outside any transaction block (run_job refuses to run inside one).
      for (const job of jobs.rows)
        await step(
          `job ${job.id} ${job.proc}${job.target ? ` on ${job.target}` : ''}`,
          async () => (await client.query('call run_job($1)', [job.id]), 'ran'),
        );
    } else {
      await step('retention', async () => {
        const exists = await client.query<{ ok: boolean }>(
          `select to_regprocedure('"cryb_apply_retention"()') is not null as ok`,
        );
        if (!exists.rows[0]?.ok)
          throw new Error(
            'cryb_apply_retention() is missing: the analytics migrations are not applied (run `npx cryb-db migrate`)',
          );
        const rows = await client.query<{ relation: string; rows_deleted: string | null }>(
          'select * from "cryb_apply_retention"()',
        );
        return rows.rows.map((r) => `${r.relation} ${r.rows_deleted ?? 0} rows deleted`).join(', ');
      });
    }
    return { path: timescale ? 'timescaledb' : 'postgresql', steps, ok: steps.every((s) => s.ok) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function formatMaintenance(report: MaintenanceReport): string[] {
  return [
    'analytics upkeep on ' +
      (report.path === 'timescaledb'
        ? 'TimescaleDB (policies run with CALL run_job)'
        : 'plain PostgreSQL (fallback retention)') +
      ':',
    ...report.steps.map((s) => `  ${s.ok ? 'ok    ' : 'FAILED'}  ${s.name}: ${s.detail} (${s.ms} ms)`),
    report.ok ? 'done' : `${report.steps.filter((s) => !s.ok).length} step(s) failed`,
  ];
}
