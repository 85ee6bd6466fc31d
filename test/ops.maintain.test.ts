import { Client } from 'pg';
import { describe, expect, it } from 'vitest';
import { main } from '../src/ops/cli';
import { useTestDatabase } from './support/db';
import { timescaleOnServer } from './support/timescale';

/**
 * cryb-db maintain, the analytics upkeep for cron: on plain PostgreSQL the fallback's retention;
 * on TimescaleDB every policy through CALL run_job. It reports each step and exits non-zero when one fails.
 */

const db = useTestDatabase();

async function maintain(args: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await main(['maintain', ...args], (line) => lines.push(...line.split('\n')));
  return { code, lines };
}

const metrics = async () =>
  (await db().sql<{ id: string }>(`select id::text as id from "SystemMetrics" order by id`)).map((r) => r.id);

async function sample(id: number, daysAgo: number) {
  await db().sql(
    `insert into "SystemMetrics" ("timestamp", id, "databaseSizeBytes", connections)
      values (now() - make_interval(days => $1), $2, 1, 1)`,
    [daysAgo, id],
  );
}

describe('cryb-db maintain on plain PostgreSQL', () => {
  it('applies the retention windows, reports what it deleted, and exits 0', async () => {
    await sample(1, 400);
    await sample(2, 1);
    const { code, lines } = await maintain([`--url=${db().url}`]);
    expect(code).toBe(0);
    expect(lines[0]).toBe('analytics upkeep on plain PostgreSQL (fallback retention):');
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}ok {4} {2}retention: .*SystemMetrics 1 rows deleted/));
    expect(lines[lines.length - 1]).toBe('done');
    expect(await metrics()).toEqual(['2']);
  });

  it('a retention that cannot run: the step is reported FAILED, exit 1, nothing deleted', async () => {
    await sample(3, 400);
    await db().sql(`alter function "cryb_apply_retention"() rename to "cryb_apply_retention_away"`);
    try {
      const { code, lines } = await maintain([`--url=${db().url}`]);
      expect(code).toBe(1);
      expect(lines).toContainEqual(
        expect.stringMatching(/^ {2}FAILED {2}retention: cryb_apply_retention\(\) is missing: .*npx cryb-db migrate/),
      );
      expect(lines[lines.length - 1]).toBe('1 step(s) failed');
      expect(await metrics()).toEqual(['2', '3']);
    } finally {
      await db().sql(`alter function "cryb_apply_retention_away"() rename to "cryb_apply_retention"`);
    }
  });

  it('an unreachable server: exit 4, nothing run', async () => {
    const { code, lines } = await maintain(['--url=postgresql://postgres@127.0.0.1:1/cryb']);
    expect(code).toBe(4);
    expect(lines).toEqual([]);
  });
});

const timescale = timescaleOnServer();

describe.skipIf(!timescale.available)(
  `cryb-db maintain on TimescaleDB${timescale.available ? '' : ` (skipped: ${timescale.reason})`}`,
  () => {
    it('runs every compression, retention and refresh policy with CALL run_job and reports each', async () => {
      const admin = new Client({ connectionString: db().url });
      await admin.connect();
      try {
        await admin.query('create extension if not exists timescaledb');
      } finally {
        await admin.end();
      }
      const { code, lines } = await maintain([`--url=${db().url}`]);
      const jobs = await db().sql<{ id: number }>(
        `select job_id as id from timescaledb_information.jobs where proc_name in ('policy_compression',
          'policy_retention', 'policy_refresh_continuous_aggregate')`,
      );
      expect(lines[0]).toBe('analytics upkeep on TimescaleDB (policies run with CALL run_job):');
      for (const { id } of jobs)
        expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^ {2}ok {4} {2}job ${id} policy_`)));
      expect(code).toBe(0);
    });
  },
);
