import type { EntityManager } from '@mikro-orm/postgresql';
import { ValidationFailed } from '../../domain/errors';
import { ANALYTICS_LAYER_UP, HOURLY_AGGREGATES } from '../../migrations/layers/analytics-layer';

/** Which path the analytics layer took in this database. */
export type AnalyticsPath = 'timescaledb' | 'postgresql';

export interface AnalyticsLayerState {
  path: AnalyticsPath;
  /** The timescaledb extension's version, when installed. */
  timescaleVersion: string | null;
  hypertables: string[];
  continuousAggregates: string[];
  /** The views and functions the layer defines that exist (either path). */
  views: string[];
}

/** Reads the layer's state from the catalogs. */
export async function analyticsLayerState(em: EntityManager): Promise<AnalyticsLayerState> {
  const [ext] = await em.execute<{ version: string | null }[]>(
    `select (select extversion from pg_extension where extname = 'timescaledb') as "version"`,
  );
  const version = ext?.version ?? null;
  let hypertables: string[] = [];
  let continuousAggregates: string[] = [];
  if (version) {
    hypertables = (
      await em.execute<{ name: string }[]>(
        `select hypertable_name as "name" from timescaledb_information.hypertables
          where hypertable_schema = current_schema() order by 1`,
      )
    ).map((r) => r.name);
    continuousAggregates = (
      await em.execute<{ name: string }[]>(
        `select view_name as "name" from timescaledb_information.continuous_aggregates
          where view_schema = current_schema() order by 1`,
      )
    ).map((r) => r.name);
  }
  const views = (
    await em.execute<{ name: string }[]>(
      `select viewname as "name" from pg_views where schemaname = current_schema()
      and viewname in ('MessageActivityHourly', 'VoiceActivityHourly', 'ServerActivityHourly', 'UserEngagementDaily',
        'DashboardLast24h') order by 1`,
    )
  ).map((r) => r.name);
  const path: AnalyticsPath = hypertables.includes('MessageAnalytics') ? 'timescaledb' : 'postgresql';
  return { path, timescaleVersion: version, hypertables, continuousAggregates, views };
}

/**
 * Applies the analytics layer (the SQL of the Timescale migration) in one transaction. Idempotent;
 * on a database that took the plain path before TimescaleDB was installed, it moves to hypertables.
 */
export async function applyAnalyticsLayer(em: EntityManager): Promise<AnalyticsLayerState> {
  await em.transactional(async (tx) => {
    for (const sql of ANALYTICS_LAYER_UP) await tx.execute(sql);
  });
  return analyticsLayerState(em);
}

/**
 * Materializes the continuous aggregates up to the current hour, backfilled history included (the
 * refresh policies only look 3 days back, and a real-time aggregate does not see rows added below
 * what it has materialized until a refresh covers them). A no-op on plain PostgreSQL, where the views read the
 * tables. TimescaleDB refuses to refresh inside a transaction block, so call it outside one.
 */
export async function refreshAnalytics(em: EntityManager): Promise<void> {
  const { path } = await analyticsLayerState(em);
  if (path !== 'timescaledb') return;
  if (em.isInTransaction())
    throw new ValidationFailed('em', 'refreshing continuous aggregates cannot run inside a transaction');
  // Up to the current hour only: that hour stays real-time, so rows arriving in it show at once.
  for (const { view } of HOURLY_AGGREGATES) {
    await em.execute(
      `call refresh_continuous_aggregate('"${view}"', null,
         date_bin('1 hour', now(), timestamptz '2000-01-01 00:00:00+00'))`,
    );
  }
}

/** Writes the hourly ServerAnalytics snapshot of every server for the hour `at` falls in; returns the rows written. */
export async function snapshotServerAnalytics(em: EntityManager, at: Date = new Date()): Promise<number> {
  if (!(at instanceof Date) || Number.isNaN(at.getTime())) throw new ValidationFailed('at', 'must be a date');
  const [row] = await em.execute<{ written: number }[]>(`select "cryb_snapshot_server_analytics"(?) as "written"`, [
    at,
  ]);
  return Number(row?.written ?? 0);
}

export interface RetentionResult {
  relation: string;
  /** Rows deleted (plain PostgreSQL); null on TimescaleDB, which drops whole chunks. */
  rowsDeleted: number | null;
  chunksDropped: number;
}

/**
 * Applies the retention windows now (90/60/30/14 days): deletes older rows on plain PostgreSQL (call
 * it from cron), drops chunks entirely older than the window on TimescaleDB (where the retention
 * policies also do it daily).
 */
export async function applyRetention(em: EntityManager): Promise<RetentionResult[]> {
  const rows = await em.execute<{ relation: string; rows_deleted: string | null; chunks_dropped: number }[]>(
    `select * from "cryb_apply_retention"()`,
  );
  return rows.map((r) => ({
    relation: r.relation,
    rowsDeleted: r.rows_deleted === null ? null : Number(r.rows_deleted),
    chunksDropped: Number(r.chunks_dropped),
  }));
}
