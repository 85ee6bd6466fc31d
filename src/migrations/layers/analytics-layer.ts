/**
 * The SQL of the analytics layer: the hand-written migration and `npm run db:timescale` both run it.
 * It sits beside the migrations, in a subfolder the migrator does not scan, so the migrations folder
 * is self-contained (a copy of it, or the compiled one in dist, runs without the entities).
 *
 * One script, two paths, chosen by the database itself at run time. Where TimescaleDB can be used
 * (installed, or available AND preloaded: without `shared_preload_libraries` CREATE EXTENSION fails)
 * the four analytics tables become hypertables with compression, retention and continuous
 * aggregates. Elsewhere plain views answer under the same names and columns, and retention is the
 * function `cryb_apply_retention()`. Every step checks before it acts, so a second run changes
 * nothing, and a database migrated on plain PostgreSQL moves to the TimescaleDB path when the
 * extension appears and the script runs again.
 *
 * A continuous aggregate reads one hypertable, so the aggregates are per source (messages, voice)
 * at (hour, server, channel, user) grain; the cross-source figures (server activity, user engagement,
 * the dashboard) are views over them, identical on both paths. Buckets: time_bucket on TimescaleDB,
 * date_bin with the same UTC alignment elsewhere, so both paths bucket alike in any session time zone.
 */

/**
 * Chunk interval, compression and retention per table (docs/architecture.md §11; SystemMetrics' chunk and
 * compression are ours). The order by lists the rest of the primary key after "timestamp", so a
 * compressed chunk still checks uniqueness cheaply.
 */
export const ANALYTICS_TABLES = [
  {
    table: 'MessageAnalytics',
    chunk: '1 day',
    compressAfter: '7 days',
    retention: '90 days',
    segmentBy: '"serverId"',
    orderBy: '"timestamp" desc, "id"',
  },
  {
    table: 'VoiceAnalytics',
    chunk: '1 day',
    compressAfter: '7 days',
    retention: '60 days',
    segmentBy: '"serverId"',
    orderBy: '"timestamp" desc, "id"',
  },
  {
    table: 'ServerAnalytics',
    chunk: '1 hour',
    compressAfter: '3 days',
    retention: '30 days',
    segmentBy: '"serverId"',
    orderBy: '"timestamp" desc',
  },
  {
    table: 'SystemMetrics',
    chunk: '1 day',
    compressAfter: '3 days',
    retention: '14 days',
    segmentBy: null,
    orderBy: '"timestamp" desc, "id"',
  },
] as const;

/** The continuous aggregates (plain views on PostgreSQL), with the retention of their source. */
export const HOURLY_AGGREGATES = [
  { view: 'MessageActivityHourly', source: 'MessageAnalytics', retention: '90 days' },
  { view: 'VoiceActivityHourly', source: 'VoiceAnalytics', retention: '60 days' },
] as const;

/** Views over the hourly aggregates, the same on both paths. */
export const DERIVED_VIEWS = ['ServerActivityHourly', 'UserEngagementDaily', 'DashboardLast24h'] as const;

const UTC_ORIGIN = `timestamptz '2000-01-01 00:00:00+00'`;

function hourlySelect(source: string, bucket: string): string {
  return source === 'MessageAnalytics'
    ? `select ${bucket} as "bucket", "serverId", "channelId", "userId",
              sum("messageCount")::bigint as "messages", sum("characterCount")::bigint as "characters"
         from "MessageAnalytics" group by 1, 2, 3, 4`
    : `select ${bucket} as "bucket", "serverId", "channelId", "userId",
              sum("sessionDuration")::bigint as "voiceSeconds", count(*)::bigint as "sessions"
         from "VoiceAnalytics" group by 1, 2, 3, 4`;
}

const lit = (text: string) => `'${text.replace(/'/g, "''")}'`;

/** Whether TimescaleDB can be used here; the notice says why not. */
const AVAILABLE_FUNCTION = `
create or replace function "cryb_timescale_available"() returns boolean language plpgsql as $fn$
begin
  if exists (select 1 from pg_extension where extname = 'timescaledb') then return true; end if;
  if not exists (select 1 from pg_available_extensions where name = 'timescaledb') then
    raise notice 'cryb analytics: timescaledb is not installed on this server; plain PostgreSQL path';
    return false;
  end if;
  -- timescaledb is not a trusted extension: only a superuser creates it (and reads the preload list).
  if not (select rolsuper from pg_roles where rolname = current_user) then
    raise notice 'cryb analytics: timescaledb needs a superuser to CREATE EXTENSION (or create it beforehand); plain PostgreSQL path';
    return false;
  end if;
  if current_setting('shared_preload_libraries') !~ 'timescaledb' then
    raise notice 'cryb analytics: timescaledb is installed but not in shared_preload_libraries; plain PostgreSQL path';
    return false;
  end if;
  return true;
end $fn$;`;

/** The hourly snapshot of every server; returns how many rows it wrote. Runs on both paths. */
const SNAPSHOT_FUNCTION = `
create or replace function "cryb_snapshot_server_analytics"("at" timestamptz default now()) returns integer language plpgsql as $fn$
declare
  hour_start timestamptz := date_bin('1 hour', "at", ${UTC_ORIGIN});
  written integer;
begin
  insert into "ServerAnalytics" ("timestamp", "serverId", "memberCount", "onlineCount", "messageCount", "voiceMinutes")
  select hour_start, s."id", s."memberCount",
         (select count(*) from "ServerMember" m join "UserPresence" p on p."userId" = m."userId"
           where m."serverId" = s."id" and p."status" <> 'OFFLINE'),
         coalesce((select sum(a."messageCount") from "MessageAnalytics" a
           where a."serverId" = s."id" and a."timestamp" >= hour_start - interval '1 hour' and a."timestamp" < hour_start), 0),
         coalesce((select sum(v."sessionDuration") from "VoiceAnalytics" v
           where v."serverId" = s."id" and v."timestamp" >= hour_start - interval '1 hour' and v."timestamp" < hour_start), 0) / 60
    from "Server" s
  on conflict ("timestamp", "serverId") do update
    set "memberCount" = excluded."memberCount", "onlineCount" = excluded."onlineCount",
        "messageCount" = excluded."messageCount", "voiceMinutes" = excluded."voiceMinutes";
  get diagnostics written = row_count;
  return written;
end $fn$;`;

function retentionFunction(timescale: boolean): string {
  const body = ANALYTICS_TABLES.map(({ table, retention }) =>
    timescale
      ? `relation := ${lit(table)}; rows_deleted := null;
         select count(*) into chunks_dropped from drop_chunks(${lit(`"${table}"`)}, older_than => interval ${lit(retention)});
         return next;`
      : `relation := ${lit(table)}; chunks_dropped := 0;
         delete from "${table}" where "timestamp" < now() - interval ${lit(retention)};
         get diagnostics rows_deleted = row_count;
         return next;`,
  ).join('\n');
  return `
create or replace function "cryb_apply_retention"() returns table(relation text, rows_deleted bigint, chunks_dropped integer)
language plpgsql as $fn$
begin
${body}
end $fn$;`;
}

const DERIVED_SQL = `
create or replace view "ServerActivityHourly" as
select "bucket", "serverId", sum("messages")::bigint as "messages", count(distinct "userId")::bigint as "activeUsers",
       (sum("voiceSeconds") / 60.0)::numeric(14, 2) as "voiceMinutes"
  from (select "bucket", "serverId", "userId", "messages", 0::bigint as "voiceSeconds" from "MessageActivityHourly" where "serverId" is not null
        union all
        select "bucket", "serverId", "userId", 0, "voiceSeconds" from "VoiceActivityHourly") u
 group by "bucket", "serverId";

create or replace view "UserEngagementDaily" as
select date_bin('1 day', "bucket", ${UTC_ORIGIN}) as "day", "userId",
       sum("messages")::bigint as "messages", sum("characters")::bigint as "characters",
       (sum("voiceSeconds") / 60.0)::numeric(14, 2) as "voiceMinutes", count(distinct "serverId")::bigint as "serversActive"
  from (select "bucket", "userId", "serverId", "messages", "characters", 0::bigint as "voiceSeconds" from "MessageActivityHourly"
        union all
        select "bucket", "userId", "serverId", 0, 0, "voiceSeconds" from "VoiceActivityHourly") u
 group by 1, "userId";

create or replace view "DashboardLast24h" as
select "serverId", sum("messages")::bigint as "messages", count(distinct "userId")::bigint as "activeUsers",
       (sum("voiceSeconds") / 60.0)::numeric(14, 2) as "voiceMinutes"
  from (select "serverId", "userId", "messages", 0::bigint as "voiceSeconds" from "MessageActivityHourly"
         where "serverId" is not null and "bucket" >= date_bin('1 hour', now(), ${UTC_ORIGIN}) - interval '23 hours'
        union all
        select "serverId", "userId", 0, "voiceSeconds" from "VoiceActivityHourly"
         where "bucket" >= date_bin('1 hour', now(), ${UTC_ORIGIN}) - interval '23 hours') u
 group by "serverId";`;

const dropDerived = `drop view if exists ${DERIVED_VIEWS.map((v) => `"${v}"`).join(', ')};`;

function timescaleBlock(): string {
  const tables = ANALYTICS_TABLES.map(({ table, chunk, compressAfter, retention, segmentBy, orderBy }) => {
    const options = [
      'timescaledb.compress',
      ...(segmentBy ? [`timescaledb.compress_segmentby = ${lit(segmentBy)}`] : []),
      `timescaledb.compress_orderby = ${lit(orderBy)}`,
    ].join(', ');
    return `
    perform create_hypertable(${lit(`"${table}"`)}, 'timestamp', chunk_time_interval => interval ${lit(chunk)},
                              create_default_indexes => false, migrate_data => true, if_not_exists => true);
    if not exists (select 1 from timescaledb_information.compression_settings where hypertable_schema = current_schema() and hypertable_name = ${lit(table)}) then
      execute ${lit(`alter table "${table}" set (${options})`)};
    end if;
    perform add_compression_policy(${lit(`"${table}"`)}, compress_after => interval ${lit(compressAfter)}, if_not_exists => true);
    perform add_retention_policy(${lit(`"${table}"`)}, drop_after => interval ${lit(retention)}, if_not_exists => true);`;
  }).join('\n');
  const aggregates = HOURLY_AGGREGATES.map(
    ({ view, source, retention }) => `
    if not exists (select 1 from timescaledb_information.continuous_aggregates where view_schema = current_schema() and view_name = ${lit(view)}) then
      execute ${lit(`drop view if exists "${view}"`)};
      execute ${lit(`create materialized view "${view}" with (timescaledb.continuous, timescaledb.materialized_only = false) as ${hourlySelect(source, `time_bucket('1 hour', "timestamp")`)} with no data`)};
    end if;
    perform add_continuous_aggregate_policy(${lit(`"${view}"`)}, start_offset => interval '3 days', end_offset => interval '1 hour',
                                            schedule_interval => interval '30 minutes', if_not_exists => true);
    perform add_retention_policy(${lit(`"${view}"`)}, drop_after => interval ${lit(retention)}, if_not_exists => true);`,
  ).join('\n');
  return `
  create extension if not exists timescaledb;
  -- The derived views depend on the hourly relations: drop them only when those are about to change.
  if (select count(*) from timescaledb_information.continuous_aggregates
       where view_schema = current_schema() and view_name in (${HOURLY_AGGREGATES.map(({ view }) => lit(view)).join(', ')})) < ${HOURLY_AGGREGATES.length} then
    ${dropDerived}
  end if;
  ${tables}
  ${aggregates}
  if not exists (select 1 from timescaledb_information.jobs where proc_name = 'cryb_server_analytics_job') then
    perform add_job('"cryb_server_analytics_job"', interval '1 hour', initial_start => date_bin('1 hour', now(), ${UTC_ORIGIN}) + interval '1 hour');
  end if;`;
}

function fallbackBlock(): string {
  return HOURLY_AGGREGATES.map(
    ({ view, source }) =>
      `execute ${lit(`create or replace view "${view}" as ${hourlySelect(source, `date_bin('1 hour', "timestamp", ${UTC_ORIGIN})`)}`)};`,
  ).join('\n  ');
}

/** Applies the layer (idempotent). */
export const ANALYTICS_LAYER_UP: string[] = [
  AVAILABLE_FUNCTION,
  SNAPSHOT_FUNCTION,
  `create or replace procedure "cryb_server_analytics_job"(job_id integer, config jsonb) language plpgsql as $fn$
begin
  perform "cryb_snapshot_server_analytics"(now());
end $fn$;`,
  `do $do$
begin
  if "cryb_timescale_available"() then
  ${timescaleBlock()}
  else
  ${fallbackBlock()}
  end if;
end $do$;`,
  // The retention body follows the path taken above (the catalogs are read only where they exist).
  `do $do$
declare
  hyper boolean := false;
begin
  if exists (select 1 from pg_extension where extname = 'timescaledb') then
    hyper := exists (select 1 from timescaledb_information.hypertables where hypertable_schema = current_schema() and hypertable_name = 'MessageAnalytics');
  end if;
  if hyper then
    execute ${lit(retentionFunction(true))};
  else
    execute ${lit(retentionFunction(false))};
  end if;
end $do$;`,
  DERIVED_SQL,
];

/**
 * Removes the layer on either path. Hypertables become plain tables again with their data, primary
 * key, checks and indexes under the same names (what the generated migrations created). The
 * extension stays installed: dropping it under live connections leaves their TimescaleDB caches
 * stale ("could not open relation with OID ..." until they reconnect), and an extension without
 * hypertables costs nothing. `drop extension timescaledb` by hand if wanted.
 */
export const ANALYTICS_LAYER_DOWN: string[] = [
  dropDerived,
  `do $do$
declare
  t text;
  pk record;
  idx text;
  indexes text[];
begin
  -- plpgsql plans a whole condition at once, so the timescaledb catalogs are read only in this branch.
  if to_regclass('timescaledb_information.hypertables') is null then
    drop view if exists ${HOURLY_AGGREGATES.map(({ view }) => `"${view}"`).join(', ')};
  else
    perform delete_job(job_id) from timescaledb_information.jobs where proc_name = 'cryb_server_analytics_job';
${HOURLY_AGGREGATES.map(
  ({
    view,
  }) => `    if exists (select 1 from timescaledb_information.continuous_aggregates where view_schema = current_schema() and view_name = ${lit(view)}) then
      execute ${lit(`drop materialized view "${view}"`)};
    else
      execute ${lit(`drop view if exists "${view}"`)};
    end if;`,
).join('\n')}
    foreach t in array array[${ANALYTICS_TABLES.map(({ table }) => lit(table)).join(', ')}] loop
      continue when not exists (select 1 from timescaledb_information.hypertables where hypertable_schema = current_schema() and hypertable_name = t);
      select conname, pg_get_constraintdef(oid) as def into pk from pg_constraint where conrelid = format('%I', t)::regclass and contype = 'p';
      select coalesce(array_agg(pg_get_indexdef(indexrelid)), '{}') into indexes from pg_index where indrelid = format('%I', t)::regclass and not indisprimary;
      -- A dropped hypertable can leave its compressed chunks behind (orphans nobody could reach).
      perform decompress_chunk(c, if_compressed => true) from show_chunks(format('%I', t)::regclass) c;
      execute format('create table %I (like %I including defaults including constraints including storage)', t || '_plain', t);
      execute format('insert into %I select * from %I', t || '_plain', t);
      execute format('drop table %I', t);
      execute format('alter table %I rename to %I', t || '_plain', t);
      execute format('alter table %I add constraint %I %s', t, pk.conname, pk.def);
      foreach idx in array indexes loop execute idx; end loop;
    end loop;
  end if;
end $do$;`,
  `drop function if exists "cryb_apply_retention"();`,
  `drop procedure if exists "cryb_server_analytics_job"(integer, jsonb);`,
  `drop function if exists "cryb_snapshot_server_analytics"(timestamptz);`,
  `drop function if exists "cryb_timescale_available"();`,
];
