import { describe, expect, it } from 'vitest';
import { analyticsLayerState, applyAnalyticsLayer, applyRetention } from '../src/entities/analytics/maintenance';
import { ANALYTICS_TABLES } from '../src/migrations/layers/analytics-layer';
import { useTestDatabase } from './support/db';
import { timescaleOnServer } from './support/timescale';

/**
 * The plain-PostgreSQL path (CI). On a server with TimescaleDB the layer takes the other path, so
 * these skip by name.
 */
const server = timescaleOnServer();
const skip = server.available
  ? ` [skipped: this server has TimescaleDB ${server.version}; the fallback path runs where it is absent]`
  : '';
const db = useTestDatabase();

const VIEWS = [
  'DashboardLast24h',
  'MessageActivityHourly',
  'ServerActivityHourly',
  'UserEngagementDaily',
  'VoiceActivityHourly',
];

const viewDefinitions = () =>
  db().sql<{ viewname: string; definition: string }>(
    `select viewname, definition from pg_views where schemaname = 'public' order by 1`,
  );
const layerFunctions = () =>
  db().sql<{ proname: string; src: string }>(
    `select proname, prosrc as src from pg_proc where proname like 'cryb\\_%' and proname <> 'cryb_notify_domain_events'
      order by 1`,
  );

describe.skipIf(server.available)(`analytics on plain PostgreSQL${skip}`, () => {
  it('the layer made plain views (no materialized views, no extension) and the retention function', async () => {
    const state = await analyticsLayerState(db().fork());
    expect(state).toEqual({
      path: 'postgresql',
      timescaleVersion: null,
      hypertables: [],
      continuousAggregates: [],
      views: VIEWS,
    });
    expect(await db().sql(`select matviewname from pg_matviews`)).toEqual([]);
    expect((await layerFunctions()).map((f) => f.proname)).toEqual([
      'cryb_apply_retention',
      'cryb_server_analytics_job',
      'cryb_snapshot_server_analytics',
      'cryb_timescale_available',
    ]);
  });

  it('retention deletes exactly the rows older than each window (90/60/30/14 days), boundary rows kept', async () => {
    await db().sql('begin');
    try {
      // now() is fixed for the transaction, so a row exactly at the cutoff is exactly at it.
      await db()
        .sql(`insert into "MessageAnalytics" ("timestamp", id, "serverId", "channelId", "userId", "messageCount",
          "characterCount") values
        (now() - interval '90 days', 1, 1, 1, 1, 1, 1), (now() - interval '90 days' - interval '1 microsecond', 2, 1, 1,
          1, 1, 1),
        (now() - interval '200 days', 3, null, 1, 1, 1, 1), (now(), 4, 1, 1, 1, 1, 1)`);
      await db()
        .sql(`insert into "VoiceAnalytics" ("timestamp", id, "serverId", "channelId", "userId", "sessionDuration")
          values
        (now() - interval '60 days', 1, 1, 1, 1, 5), (now() - interval '60 days' - interval '1 microsecond', 2, 1, 1, 1,
          5), (now() - interval '59 days', 3, 1, 1, 1, 5)`);
      await db()
        .sql(`insert into "ServerAnalytics" ("timestamp", "serverId", "memberCount", "onlineCount", "messageCount",
          "voiceMinutes") values
        (now() - interval '30 days', 1, 1, 1, 1, 1), (now() - interval '30 days' - interval '1 microsecond', 1, 1, 1, 1,
          1), (now() - interval '31 days', 2, 1, 1, 1, 1)`);
      await db().sql(`insert into "SystemMetrics" ("timestamp", id, "databaseSizeBytes", connections, "cacheHitRatio",
          "transactionsPerSecond") values
        (now() - interval '14 days', 1, 1, 1, null, null), (now() - interval '14 days' - interval '1 microsecond', 2, 1,
          1, null, null)`);
      const result = await db().sql<{ relation: string; rows_deleted: string; chunks_dropped: number }>(
        `select * from cryb_apply_retention()`,
      );
      expect(result.map((r) => [r.relation, Number(r.rows_deleted), r.chunks_dropped])).toEqual([
        ['MessageAnalytics', 2, 0],
        ['VoiceAnalytics', 1, 0],
        ['ServerAnalytics', 2, 0],
        ['SystemMetrics', 1, 0],
      ]);
      const left = async (table: string, key: string) =>
        (await db().sql<{ k: string }>(`select (${key})::text as k from "${table}" order by 1`)).map((r) => r.k);
      expect(await left('MessageAnalytics', 'id')).toEqual(['1', '4']);
      expect(await left('VoiceAnalytics', 'id')).toEqual(['1', '3']);
      expect(await left('ServerAnalytics', `"timestamp" = now() - interval '30 days'`)).toEqual(['true']);
      expect(await left('SystemMetrics', 'id')).toEqual(['1']);
    } finally {
      await db().sql('rollback');
    }
    expect(ANALYTICS_TABLES.map((t) => t.retention)).toEqual(['90 days', '60 days', '30 days', '14 days']);
  });

  it('applyRetention (for cron) reports rows deleted per table', async () => {
    await db().sql(
      `insert into "MessageAnalytics" ("timestamp", id, "serverId", "channelId", "userId", "messageCount",
        "characterCount") values (now() - interval '91 days', 77, 1, 1, 1, 1, 1)`,
    );
    expect(await applyRetention(db().fork())).toEqual([
      { relation: 'MessageAnalytics', rowsDeleted: 1, chunksDropped: 0 },
      { relation: 'VoiceAnalytics', rowsDeleted: 0, chunksDropped: 0 },
      { relation: 'ServerAnalytics', rowsDeleted: 0, chunksDropped: 0 },
      { relation: 'SystemMetrics', rowsDeleted: 0, chunksDropped: 0 },
    ]);
  });

  it('applying the layer again is a no-op: same views, same functions, same state', async () => {
    const views = await viewDefinitions();
    const functions = await layerFunctions();
    const state = await applyAnalyticsLayer(db().fork());
    expect(await viewDefinitions()).toEqual(views);
    expect(await layerFunctions()).toEqual(functions);
    expect(state.path).toBe('postgresql');
  });

  it('the migrations go down and up again; the entities match the schema in every state', async () => {
    const migrator = db().orm.getMigrator();
    await db().sql(
      `insert into "MessageAnalytics" ("timestamp", id, "serverId", "channelId", "userId", "messageCount",
        "characterCount") values (now(), 5, 1, 1, 1, 1, 1)`,
    );
    // By name, not "the last two": later migrations (DmPrivacy) stay applied, so the entities still match.
    await migrator.down('Migration20261126064700_Timescale');
    expect(await viewDefinitions()).toEqual([]);
    expect(await layerFunctions()).toEqual([]);
    expect(await db().sql(`select count(*)::int as n from "MessageAnalytics"`)).toEqual([{ n: 1 }]);
    expect(await migrator.checkMigrationNeeded()).toBe(false);
    await migrator.down('Migration20261126064610_Analytics');
    expect(await db().sql(`select to_regclass('"MessageAnalytics"') as t`)).toEqual([{ t: null }]);
    expect((await migrator.up()).map((m) => m.name)).toEqual([
      'Migration20261126064610_Analytics',
      'Migration20261126064700_Timescale',
    ]);
    expect((await analyticsLayerState(db().fork())).views).toEqual(VIEWS);
    expect(await migrator.checkMigrationNeeded()).toBe(false);
  });
});
