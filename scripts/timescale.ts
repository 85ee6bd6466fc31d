/**
 * npm run db:timescale: applies the analytics layer (the Timescale migration's SQL) to an already
 * migrated database and says which path it took: TimescaleDB hypertables, compression, retention
 * and continuous aggregates where the extension can be used, plain views and cryb_apply_retention()
 * elsewhere. Idempotent: a second run changes nothing. A database that took the plain path moves to
 * TimescaleDB when the extension has been installed (and preloaded) since.
 */
import { createOrm } from '../src/db/orm';
import { runCommand } from '../src/ops/failure';
import {
  analyticsLayerState,
  applyAnalyticsLayer,
  type AnalyticsLayerState,
} from '../src/entities/analytics/maintenance';

const MIGRATION = 'Migration20261126064700_Timescale';

function describe(state: AnalyticsLayerState): string {
  return state.path === 'timescaledb'
    ? `TimescaleDB ${state.timescaleVersion}: hypertables ${state.hypertables.join(', ')}; continuous ` +
        `aggregates ${state.continuousAggregates.join(', ')}; views ${state.views.join(', ')}`
    : `plain PostgreSQL: views ${state.views.join(', ')}; retention by cryb_apply_retention()`;
}

async function main(): Promise<number | void> {
  // Applies part of a migration itself, so it opens the database whatever its migrations.
  const orm = await createOrm({
    embedded: true,
    migrations: 'ignore',
    poolSize: 2,
    logger: (line) => console.error(line),
  });
  try {
    const em = orm.em.fork();
    const [tables] = await em.execute<{ ok: boolean }[]>(
      `select to_regclass('"MessageAnalytics"') is not null and to_regclass('"SystemMetrics"') is not null as "ok"`,
    );
    if (!tables?.ok) {
      console.error('the analytics tables do not exist yet: run `npm run db:migrate:deploy` first');
      return 5;
    }
    const [why] = await em.execute<{ available: boolean; superuser: boolean; preloaded: boolean | null }[]>(
      `select exists (select 1 from pg_available_extensions where name = 'timescaledb') as "available",
              (select rolsuper from pg_roles where rolname = current_user) as "superuser",
              case when (select rolsuper from pg_roles where rolname = current_user)
                   then current_setting('shared_preload_libraries') ~ 'timescaledb' end as "preloaded"`,
    );
    const before = await analyticsLayerState(em);
    const after = await applyAnalyticsLayer(em);
    // Record the migration as applied, so the migrator does not run it again (it would change nothing).
    await em.execute(
      `insert into "mikro_orm_migrations" ("name", "executed_at") select ?, now()
        where to_regclass('"mikro_orm_migrations"') is not null and not exists (select 1 from "mikro_orm_migrations"
          where "name" = ?)`,
      [MIGRATION, MIGRATION],
    );
    console.log(`path: ${describe(after)}`);
    if (after.path === 'postgresql') {
      console.log(
        !why?.available
          ? 'timescaledb is not installed on this server (pg_available_extensions has no timescaledb)'
          : !why.superuser
            ? 'timescaledb is installed, but creating the extension needs a superuser: run this as one (or CREATE ' +
              'EXTENSION timescaledb first)'
            : !why.preloaded
              ? 'timescaledb is installed but not in shared_preload_libraries: add it and restart PostgreSQL, then ' +
                'run this again'
              : 'timescaledb was not used',
      );
    }
    console.log(
      JSON.stringify(before) === JSON.stringify(after)
        ? 'the layer was already in place: nothing added or removed'
        : `changed: was ${describe(before)}`,
    );
  } finally {
    await orm.close(true);
  }
}

runCommand(main);
