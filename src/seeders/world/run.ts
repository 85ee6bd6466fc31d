import type { EntityManager } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { checkInvariants, describeViolations, type InvariantViolation } from '../../db/invariants';
import { translateDatabaseError } from '../../db/errors';
import { seedAnalyticsHistory } from '../factories/AnalyticsFactory';
import { copyRows, type TableName } from './copy';
import { enterBulkMode, leaveBulkMode, secondaryIndexes, type IndexDefinition } from './bulk-mode';
import { finishWorld } from './finish';
import { destinations, messageChunk } from './messages';
import { Progress } from './progress';
import { showcase } from './showcase';
import { scenarioNamed, type ScenarioSpec } from './spec';
import { planWorld, type WorldPlan } from './structure';
import { vocabulary } from './vocabulary';
import { connectTimeoutMs } from '../../db/connection-check';

export interface SeedRunOptions {
  scenario: string | ScenarioSpec;
  seed?: number;
  /** Empty every table first (a database holding a world is refused otherwise). */
  reset?: boolean;
  /** Finish an interrupted run of the same scenario and seed. */
  resume?: boolean;
  /** Progress lines on stderr (default), a sink, or null for none. */
  log?: ((line: string) => void) | null;
  /** Checked between phases and chunks: an aborted run stops cleanly at a committed phase. */
  signal?: AbortSignal;
  /** Called after each phase commits (tests interrupt a run here). */
  onPhase?: (name: string) => void;
}

/** The world's interesting actors and places, by id (what tests and benches pick from). */
export type SeededWorld = Omit<WorldPlan, 'tables' | 'spec'>;

export interface SeedReport {
  scenario: string;
  seed: number;
  resumed: boolean;
  rows: Record<string, number>;
  totalRows: number;
  wallMs: number;
  rowsPerSecond: number;
  peakRssMb: number;
  phases: { name: string; ms: number }[];
  violations: InvariantViolation[];
  /** Ids made by the showcase (a welcome message, its reply, a thread, a DM between friends). */
  handles: Record<string, string>;
  /** Not serialised: the plan's actors (servers with owner, admin, moderators, channels...). */
  world: SeededWorld;
}

export class SeedRefused extends Error {}

/** Rows of the world a finished seed holds, per table (the COPY baseline reloads exactly these). */
export const WORLD_TABLES = [
  'User',
  'UserPresence',
  'Relationship',
  'Server',
  'Role',
  'ServerMember',
  'ServerMemberRole',
  'Channel',
  'PermissionOverwrite',
  'Invite',
  'Emoji',
  'Sticker',
  'ChannelRecipient',
  'VoiceState',
  'VoiceSession',
  'Message',
  'MessageAttachment',
  'MessageEmbed',
  'Reaction',
  'ThreadMember',
  'ReadState',
  'MessageAnalytics',
  'VoiceAnalytics',
  'ServerAnalytics',
  'SystemMetrics',
  'DomainEvent',
  'AuditLogEntry',
] as const;

const PROGRESS_TABLE = 'cryb_seed_run';

/** A row of PROGRESS_TABLE (one per run): what an interrupted run had committed. */
interface ProgressRow {
  scenario: string;
  seed: number;
  /** bigint: pg returns it as text. */
  anchor_ms: string;
  done: string[];
  handles: Record<string, string> | null;
  indexes: IndexDefinition[] | null;
}
const STRUCTURE_ORDER: TableName[] = [
  'User',
  'UserPresence',
  'Relationship',
  'Server',
  'Role',
  'ServerMember',
  'ServerMemberRole',
  'Channel',
  'PermissionOverwrite',
  'Invite',
  'Emoji',
  'Sticker',
  'AuditLogEntry',
  'ChannelRecipient',
  'VoiceState',
  'VoiceSession',
];
const MESSAGE_ORDER: TableName[] = ['Message', 'MessageAttachment', 'MessageEmbed', 'Reaction'];

/**
 * Seeds a scenario: structure, messages in chunks, derived counters, analytics history, the domain
 * showcase, then the invariant check. Each phase (each message chunk) commits in one transaction
 * together with its mark in cryb_seed_run, so an interrupted run leaves whole phases and a mark of
 * where it stopped: `resume` finishes it, `reset` starts over, anything else is refused. The table
 * is dropped when the run completes. Bulk rows go through COPY; the ORM is used only for the
 * analytics history and the showcase.
 */
export async function seedScenario(em: EntityManager, options: SeedRunOptions): Promise<SeedReport> {
  const spec = typeof options.scenario === 'string' ? scenarioNamed(options.scenario) : options.scenario;
  const seed = options.seed ?? 42;
  const progress = new Progress(
    options.log === undefined
      ? undefined
      : options.log === null
        ? null
        : (line) => options.log!(line.replace(/\n$/, '')),
  );
  const started = performance.now();
  const phases: SeedReport['phases'] = [];
  const client = new Client({
    connectionString: em.config.get('clientUrl'),
    connectionTimeoutMillis: connectTimeoutMs(),
  });
  // A dropped connection also fails the query in flight, which is where it is handled; without a
  // listener the same failure would crash the process as an 'error' event.
  client.on('error', () => undefined);
  await client.connect();
  try {
    const [{ locked }] = (
      await client.query<{ locked: boolean }>(`select pg_try_advisory_lock(hashtext('cryb:seed')) as locked`)
    ).rows;
    if (!locked) throw new SeedRefused('another seed is running on this database');
    const state = await prepare(client, spec, seed, options, progress);
    const words = vocabulary(seed, spec.users);
    const plan = planWorld(spec, seed, state.anchorMs, words);
    const done = new Set(state.done);
    const phase = async (name: string, work: () => Promise<void>) => {
      if (done.has(name)) return;
      if (options.signal?.aborted)
        throw new SeedRefused(`interrupted before ${name}: run again with --resume to finish, or --reset`);
      const t0 = performance.now();
      await client.query('begin');
      try {
        await work();
        await client.query(`update ${PROGRESS_TABLE} set done = array_append(done, $1)`, [name]);
        await client.query('commit');
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw error;
      }
      phases.push({ name, ms: Math.round(performance.now() - t0) });
      options.onPhase?.(name);
    };

    progress.phase(
      `${spec.name}: ${spec.users} users, ${spec.servers} servers, ${spec.messages} messages ` +
        `(seed ${seed}${state.resumed ? ', resuming' : ''})`,
    );
    await phase('structure', async () => {
      for (const table of STRUCTURE_ORDER) await copyRows(client, table, plan.tables[table] ?? []);
    });
    if (spec.bulkMode) await phase('bulk mode', () => enterBulkMode(client, state.indexes));
    const route = destinations(plan);
    const chunks = Math.ceil(spec.messages / spec.chunk);
    let written = 0;
    for (let k = 0; k < chunks; k++) {
      const from = k * spec.chunk;
      const to = Math.min(spec.messages, from + spec.chunk);
      await phase(`messages:${k}`, async () => {
        const chunk = messageChunk(plan, words, route, from, to, k);
        for (const table of MESSAGE_ORDER) await copyRows(client, table, chunk.tables[table] ?? []);
      });
      written = to;
      progress.tick('messages', written, spec.messages);
    }
    if (spec.bulkMode)
      await phase('indexes', () => leaveBulkMode(client, state.indexes, (name) => progress.line(`rebuilding ${name}`)));
    await phase('finish', () => finishWorld(client, (step) => progress.line(`derived state: ${step}`)));
    await phase('analytics', async () => {
      for (const table of ['MessageAnalytics', 'VoiceAnalytics', 'ServerAnalytics', 'SystemMetrics'])
        await client.query(`delete from "${table}"`);
      await client.query('commit');
      await client.query('begin');
      await analytics(em, plan, seed);
    });
    let handles: Record<string, string> = {};
    if (spec.showcase && !done.has('showcase')) {
      handles = await em.fork().transactional(async (tx) => {
        const made = await showcase(tx, plan);
        await tx.execute(`update ${PROGRESS_TABLE} set done = array_append(done, 'showcase'), handles = ?::jsonb`, [
          JSON.stringify(made),
        ]);
        return made;
      });
    } else if (spec.showcase) {
      handles =
        (await client.query<Pick<ProgressRow, 'handles'>>(`select handles from ${PROGRESS_TABLE}`)).rows[0]?.handles ??
        {};
    }
    progress.phase('checking invariants');
    const violations = await checkInvariants(client);
    progress.line(describeViolations(violations));
    if (violations.length > 0)
      throw new Error(`the seeded world breaks invariants:\n${describeViolations(violations)}`);
    await client.query(`drop table ${PROGRESS_TABLE}`);
    if (spec.messages >= 100_000) await client.query('analyze');
    const rows = await countRows(client);
    const { tables: _tables, spec: _spec, ...world } = plan;
    const totalRows = Object.values(rows).reduce((a, b) => a + b, 0);
    const wallMs = performance.now() - started;
    const report: SeedReport = {
      scenario: spec.name,
      seed,
      resumed: state.resumed,
      rows,
      totalRows,
      wallMs: Math.round(wallMs),
      rowsPerSecond: Math.round(totalRows / (wallMs / 1000)),
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      phases,
      violations,
      handles,
      world,
    };
    // Kept on the report but not serialised.
    Object.defineProperty(report, 'world', { enumerable: false });
    progress.line(
      `done: ${totalRows.toLocaleString('en-US')} rows in ${(wallMs / 1000).toFixed(1)} s ` +
        `(${report.rowsPerSecond.toLocaleString('en-US')} rows/s), peak RSS ${report.peakRssMb} MB`,
    );
    return report;
  } catch (error) {
    // A lost connection or a timeout mid-run reaches the caller typed; the committed phases stay
    // marked, so `resume` finishes the run.
    throw translateDatabaseError(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Refuses, resets or resumes; returns the run's anchor time and the phases already committed. */
async function prepare(client: Client, spec: ScenarioSpec, seed: number, options: SeedRunOptions, progress: Progress) {
  const hasProgress = (
    await client.query<{ present: boolean }>(`select to_regclass('${PROGRESS_TABLE}') is not null as present`)
  ).rows[0].present;
  const run = hasProgress
    ? (
        await client.query<Omit<ProgressRow, 'handles'>>(
          `select scenario, seed, anchor_ms, done, indexes from ${PROGRESS_TABLE}`,
        )
      ).rows[0]
    : undefined;
  if (options.reset) {
    // An interrupted bulk-mode run may have left the big tables without their indexes.
    if (run?.indexes) await leaveBulkMode(client, run.indexes, (name) => progress.line(`restoring ${name}`));
    const tables = (
      await client.query<{ name: string }>(
        `select tablename as name from pg_tables where schemaname = current_schema()
          and tablename <> 'mikro_orm_migrations'`,
      )
    ).rows;
    progress.line(`reset: emptying ${tables.length} tables`);
    if (tables.length > 0) await client.query(`truncate ${tables.map((t) => `"${t.name}"`).join(', ')} cascade`);
    if (hasProgress) await client.query(`drop table ${PROGRESS_TABLE}`);
  } else if (run) {
    if (!options.resume || run.scenario !== spec.name || Number(run.seed) !== seed) {
      throw new SeedRefused(
        `an interrupted seed of "${run.scenario}" (seed ${run.seed}, ${run.done.length} phases done) ` +
          'is in this database: finish it with --resume (SEED_RESUME=1) and the same scenario and seed, ' +
          'or start over with --reset (SEED_RESET=1)',
      );
    }
    return { anchorMs: Number(run.anchor_ms), done: run.done, resumed: true, indexes: run.indexes ?? [] };
  } else {
    const [{ users }] = (
      await client.query<{ users: number }>(`select count(*)::int as users from (select 1 from "User" limit 1000000) u`)
    ).rows;
    if (users > 0)
      throw new SeedRefused(
        `this database already holds a world (${users} users): pass --reset (SEED_RESET=1) to replace it`,
      );
  }
  const anchorMs = Math.floor(Date.now() / 3_600_000) * 3_600_000;
  const indexes = spec.bulkMode ? await secondaryIndexes(client) : [];
  await client.query(
    `create table ${PROGRESS_TABLE} (scenario text not null, seed int not null, anchor_ms bigint not null,
      done text[] not null default '{}', handles jsonb, indexes jsonb, started_at timestamptz not null default now())`,
  );
  await client.query(`insert into ${PROGRESS_TABLE} (scenario, seed, anchor_ms, indexes) values ($1, $2, $3, $4)`, [
    spec.name,
    seed,
    anchorMs,
    JSON.stringify(indexes),
  ]);
  return { anchorMs, done: [] as string[], resumed: false, indexes };
}

async function analytics(em: EntityManager, plan: WorldPlan, seed: number): Promise<void> {
  const { days, channels, users } = plan.spec.analytics;
  const pick = <T>(f: (s: WorldPlan['servers'][number]) => T) =>
    Object.fromEntries(plan.servers.map((s) => [s.id, f(s)]));
  await em.fork().transactional((tx) =>
    seedAnalyticsHistory(tx, {
      serverIds: plan.servers.map((s) => s.id),
      channelIdsByServer: pick((s) => s.openChannelIds.slice(0, channels)),
      voiceChannelIdsByServer: pick((s) => s.voiceChannelIds.slice(0, 2)),
      userIdsByServer: pick((s) => s.memberIds.slice(0, users)),
      days,
      seed,
      now: new Date(plan.anchorMs),
    }),
  );
}

async function countRows(client: Client): Promise<Record<string, number>> {
  const rows: Record<string, number> = {};
  for (const table of WORLD_TABLES)
    rows[table] = Number((await client.query<{ n: string }>(`select count(*) as n from "${table}"`)).rows[0].n);
  return rows;
}
