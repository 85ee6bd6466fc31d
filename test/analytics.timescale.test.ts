import { describe, expect, it } from 'vitest';
import { ANALYTICS_LAYER_UP } from '../src/migrations/layers/analytics-layer';
import { analyticsLayerState, applyAnalyticsLayer, applyRetention } from '../src/entities/analytics/maintenance';
import { useTestDatabase } from './support/db';
import { timescaleOnServer } from './support/timescale';
import { ServerService } from '../src/servers/server-service';
import { UserService } from '../src/identity/user-service';

/**
 * The TimescaleDB path: runs where the connected server has the extension (pg_available_extensions
 * and shared_preload_libraries), e.g. DATABASE_URL=postgresql://postgres@127.0.0.1:5433/postgres;
 * elsewhere every test is reported skipped, with the reason in its name.
 */
const server = timescaleOnServer();
const skip = server.available ? '' : ` [skipped: ${server.reason}]`;
const db = useTestDatabase();

type Job = {
  job_id: number;
  proc_name: string;
  hypertable_name: string | null;
  schedule_interval: string;
  config: Record<string, string> | null;
};
const jobs = () =>
  db().sql<Job>(
    `select job_id, proc_name, hypertable_name, schedule_interval::text, config from timescaledb_information.jobs
      where job_id >= 1000 order by job_id`,
  );
const jobOf = async (proc: string, relation: string | null) => {
  const job = (await jobs()).find((j) => j.proc_name === proc && j.hypertable_name === relation);
  if (!job) throw new Error(`no ${proc} job on ${relation}`);
  return job.job_id;
};
const chunksOf = (table: string) =>
  db().sql<{ chunk_name: string; range_end: Date; is_compressed: boolean }>(
    `select chunk_name, range_end, is_compressed from timescaledb_information.chunks where hypertable_name = $1
      order by range_start`,
    [table],
  );
const insertMessages = (ages: string[]) =>
  db().sql(
    `insert into "MessageAnalytics" ("timestamp", id, "serverId", "channelId", "userId", "messageCount",
      "characterCount")
     select now() - age::interval, (random() * 1e15)::bigint, 1, 2, 3, 1, 10 from unnest($1::text[]) age`,
    [ages],
  );

describe.skipIf(!server.available)(
  `analytics on TimescaleDB${server.version ? ` ${server.version}` : ''}${skip}`,
  () => {
    it('the four tables are hypertables with the chunk intervals of docs/architecture.md §11', async () => {
      expect((await analyticsLayerState(db().fork())).path).toBe('timescaledb');
      const dims = await db().sql(
        `select hypertable_name, column_name, time_interval::text from timescaledb_information.dimensions
        where hypertable_schema = 'public' order by hypertable_name`,
      );
      expect(dims).toEqual([
        { hypertable_name: 'MessageAnalytics', column_name: 'timestamp', time_interval: '1 day' },
        { hypertable_name: 'ServerAnalytics', column_name: 'timestamp', time_interval: '01:00:00' },
        { hypertable_name: 'SystemMetrics', column_name: 'timestamp', time_interval: '1 day' },
        { hypertable_name: 'VoiceAnalytics', column_name: 'timestamp', time_interval: '1 day' },
      ]);
    });

    it('compression: segment by "serverId", ordered by timestamp desc; policies after 7/7/3/3 days', async () => {
      const settings = await db().sql(
        `select hypertable::text, segmentby, orderby from timescaledb_information.hypertable_compression_settings
          where hypertable::text not like '_timescaledb%' order by 1`,
      );
      expect(settings).toEqual([
        { hypertable: '"MessageAnalytics"', segmentby: 'serverId', orderby: '"timestamp" DESC,id' },
        { hypertable: '"ServerAnalytics"', segmentby: 'serverId', orderby: '"timestamp" DESC' },
        { hypertable: '"SystemMetrics"', segmentby: null, orderby: '"timestamp" DESC,id' },
        { hypertable: '"VoiceAnalytics"', segmentby: 'serverId', orderby: '"timestamp" DESC,id' },
      ]);
      const policies = (await jobs())
        .filter((j) => j.proc_name === 'policy_compression')
        .map((j) => [j.hypertable_name, j.config!.compress_after]);
      expect(policies.sort()).toEqual([
        ['MessageAnalytics', '7 days'],
        ['ServerAnalytics', '3 days'],
        ['SystemMetrics', '3 days'],
        ['VoiceAnalytics', '7 days'],
      ]);
    });

    it('retention policies of 90/60/30/14 days, and on the aggregates the retention of their source', async () => {
      const policies = (await jobs())
        .filter((j) => j.proc_name === 'policy_retention')
        .map((j) => [j.hypertable_name, j.config!.drop_after]);
      expect(policies.sort()).toEqual([
        ['MessageActivityHourly', '90 days'],
        ['MessageAnalytics', '90 days'],
        ['ServerAnalytics', '30 days'],
        ['SystemMetrics', '14 days'],
        ['VoiceActivityHourly', '60 days'],
        ['VoiceAnalytics', '60 days'],
      ]);
    });

    it('continuous aggregates (real-time) with refresh policies, and the hourly server snapshot job', async () => {
      const aggregates = await db().sql(
        `select view_name, hypertable_name, materialized_only from timescaledb_information.continuous_aggregates
          order by 1`,
      );
      expect(aggregates).toEqual([
        { view_name: 'MessageActivityHourly', hypertable_name: 'MessageAnalytics', materialized_only: false },
        { view_name: 'VoiceActivityHourly', hypertable_name: 'VoiceAnalytics', materialized_only: false },
      ]);
      const refresh = (await jobs()).filter((j) => j.proc_name === 'policy_refresh_continuous_aggregate');
      expect(
        refresh
          .map((j) => [j.hypertable_name, j.schedule_interval, j.config!.start_offset, j.config!.end_offset])
          .sort(),
      ).toEqual([
        ['MessageActivityHourly', '00:30:00', '3 days', '01:00:00'],
        ['VoiceActivityHourly', '00:30:00', '3 days', '01:00:00'],
      ]);
      expect(
        (await jobs()).filter((j) => j.proc_name === 'cryb_server_analytics_job').map((j) => j.schedule_interval),
      ).toEqual(['01:00:00']);
    });

    it('run_job: retention drops the chunks older than 90 days and keeps the rest', async () => {
      await insertMessages(['100 days', '95 days', '1 day', '1 hour']);
      const before = await chunksOf('MessageAnalytics');
      expect(before).toHaveLength(4);
      await db().sql(`call run_job(${await jobOf('policy_retention', 'MessageAnalytics')})`);
      const after = await chunksOf('MessageAnalytics');
      expect(after).toHaveLength(2);
      expect(after.every((c) => c.range_end.getTime() > Date.now() - 90 * 86_400_000)).toBe(true);
      expect(await db().sql(`select count(*)::int as n from "MessageAnalytics"`)).toEqual([{ n: 2 }]);
    });

    it('run_job: compression compresses the chunks older than 7 days; the rows still read', async () => {
      await insertMessages(['10 days', '9 days']);
      await db().sql(`call run_job(${await jobOf('policy_compression', 'MessageAnalytics')})`);
      const chunks = await chunksOf('MessageAnalytics');
      const old = chunks.filter((c) => c.range_end.getTime() < Date.now() - 7 * 86_400_000);
      expect(old.length).toBeGreaterThanOrEqual(2);
      expect(old.every((c) => c.is_compressed)).toBe(true);
      expect(chunks.filter((c) => c.range_end.getTime() > Date.now()).every((c) => !c.is_compressed)).toBe(true);
      expect(await db().sql(`select count(*)::int as n from "MessageAnalytics"`)).toEqual([{ n: 4 }]);
    });

    it('run_job: the refresh policy materializes the aggregate; the snapshot job writes ServerAnalytics', async () => {
      await insertMessages(['2 days', '2 days 1 hour']);
      const [{ materialized }] = await db().sql<{ materialized: string }>(
        `select format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name) as materialized
         from timescaledb_information.continuous_aggregates where view_name = 'MessageActivityHourly'`,
      );
      expect(await db().sql(`select count(*)::int as n from ${materialized}`)).toEqual([{ n: 0 }]);
      await db().sql(`call run_job(${await jobOf('policy_refresh_continuous_aggregate', 'MessageActivityHourly')})`);
      expect(
        (await db().sql<{ n: number }>(`select count(*)::int as n from ${materialized}`))[0].n,
      ).toBeGreaterThanOrEqual(2);

      const owner = await new UserService(db().fork()).register({ username: 'tsowner' });
      await new ServerService(db().fork()).createServer(owner, { name: 'Timescale Guild' });
      await db().sql(`call run_job(${await jobOf('cryb_server_analytics_job', null)})`);
      expect(
        await db().sql(
          `select "memberCount" from "ServerAnalytics" where "timestamp" = date_bin('1 hour', now(),
            timestamptz '2000-01-01 00:00:00+00')`,
        ),
      ).toEqual([{ memberCount: 1 }]);
    });

    it('cryb_apply_retention drops chunks by the same windows', async () => {
      await insertMessages(['120 days']);
      const result = await applyRetention(db().fork());
      expect(result.find((r) => r.relation === 'MessageAnalytics')).toEqual({
        relation: 'MessageAnalytics',
        rowsDeleted: null,
        chunksDropped: 1,
      });
    });

    it('applying the layer again changes nothing', async () => {
      const before = await jobs();
      const state = await applyAnalyticsLayer(db().fork());
      expect(await jobs()).toEqual(before);
      expect(state.continuousAggregates).toEqual(['MessageActivityHourly', 'VoiceActivityHourly']);
    });

    it('down turns the hypertables back into the tables the entities describe, data kept; up and up again', async () => {
      const migrator = db().orm.getMigrator();
      const count = async () =>
        (await db().sql<{ n: number }>(`select count(*)::int as n from "MessageAnalytics"`))[0].n;
      const rows = await count();
      const indexes = () =>
        db().sql(
          `select indexname, indexdef from pg_indexes where tablename like '%Analytics' or tablename = 'SystemMetrics'
            order by 1`,
        );
      await migrator.down();
      expect((await analyticsLayerState(db().fork())).hypertables).toEqual([]);
      expect(await db().sql(`select count(*)::int as n from pg_matviews`)).toEqual([{ n: 0 }]);
      expect(await count()).toBe(rows);
      const plainIndexes = await indexes();
      expect(plainIndexes.length).toBe(8);
      expect(await migrator.checkMigrationNeeded()).toBe(false);

      await migrator.up();
      expect((await analyticsLayerState(db().fork())).hypertables).toEqual([
        'MessageAnalytics',
        'ServerAnalytics',
        'SystemMetrics',
        'VoiceAnalytics',
      ]);
      expect(await count()).toBe(rows);
      expect(await indexes()).toEqual(plainIndexes);
      expect(await migrator.checkMigrationNeeded()).toBe(false);
      await migrator.down();
      await migrator.up();
      expect((await analyticsLayerState(db().fork())).path).toBe('timescaledb');
    });

    it('a database that took the plain path moves to TimescaleDB when the layer runs again', async () => {
      await db().orm.getMigrator().down();
      // The plain path, as on a server without the extension: the availability check answers false.
      await db().sql(ANALYTICS_LAYER_UP[0]);
      await db().sql(
        `create or replace function "cryb_timescale_available"() returns boolean language sql as 'select false'`,
      );
      for (const sql of ANALYTICS_LAYER_UP.slice(1)) await db().sql(sql);
      await insertMessages(['1 hour', '2 days']);
      expect((await analyticsLayerState(db().fork())).path).toBe('postgresql');
      const fallbackAnswer = await db().sql(`select * from "ServerActivityHourly" order by 1, 2`);
      const state = await applyAnalyticsLayer(db().fork());
      expect(state.path).toBe('timescaledb');
      expect(state.continuousAggregates).toEqual(['MessageActivityHourly', 'VoiceActivityHourly']);
      expect(await db().sql(`select * from "ServerActivityHourly" order by 1, 2`)).toEqual(fallbackAnswer);
    });
  },
);
