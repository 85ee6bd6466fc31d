/**
 * The large scenario (10,000 users, 100 servers, 5,000 guild channels, 1,000,000 messages with
 * reactions, attachments, voice sessions and analytics) seeded into a scratch database, against
 * COPY of the very same rows into a second freshly migrated scratch database (same server, same
 * run). The rows are exported with COPY TO into files first, so the baseline times loading alone.
 * Also: the seed's two documented queries (docs/architecture.md §4, verbatim) at that scale, for the
 * largest server, with their plans (EXPLAIN ANALYZE), through raw pg and through the ORM's execute.
 *
 *   npx tsx bench/seed-large.ts                      BENCH_SCENARIO=default npx tsx bench/seed-large.ts
 *
 * Prints one JSON object; both scratch databases are dropped (KEEP_SCRATCH=1 keeps the seeded one).
 */
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Client } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { createOrm, migrate, type CrybOrm } from '../src/db/orm';
import { seedScenario, WORLD_TABLES } from '../src/seeders/world/run';
import { machine, percentile, round3, scratchDatabase, toStderr } from './support';

const SCENARIO = process.env.BENCH_SCENARIO ?? 'large';
const QUERY_RUNS = Number(process.env.BENCH_QUERY_RUNS ?? 50);

export const DOCUMENTED_QUERIES = {
  onlineMembers: `SELECT u.*, up.status FROM "User" u JOIN "ServerMember" sm ON u.id = sm."userId"
LEFT JOIN "UserPresence" up ON u.id = up."userId"
WHERE sm."serverId" = $1 AND up.status != 'OFFLINE';`,
  hourlyActivity: `SELECT date_trunc('hour', timestamp) as hour, SUM("messageCount") as messages,
       COUNT(DISTINCT "userId") as unique_users
FROM "MessageAnalytics" WHERE timestamp >= NOW() - INTERVAL '24 hours' AND "serverId" = $1
GROUP BY hour ORDER BY hour;`,
};

async function columnsOf(client: Client, table: string): Promise<string> {
  const { rows } = await client.query<{ name: string }>(
    `select column_name as name from information_schema.columns where table_schema = current_schema()
      and table_name = $1 and is_generated = 'NEVER' order by ordinal_position`,
    [table],
  );
  return rows.map((r) => `"${r.name}"`).join(', ');
}

/** Exports every world table to files, then times COPY FROM of all of them into `targetUrl`. */
async function copyBaseline(sourceUrl: string, targetUrl: string) {
  const dir = mkdtempSync(join(tmpdir(), 'cryb-copy-'));
  const source = new Client({ connectionString: sourceUrl });
  const target = new Client({ connectionString: targetUrl });
  await source.connect();
  await target.connect();
  try {
    const plan: { table: string; columns: string; file: string }[] = [];
    for (const table of WORLD_TABLES) {
      const columns = await columnsOf(source, table);
      const file = join(dir, `${table}.tsv`);
      await pipeline(source.query(copyTo(`copy "${table}" (${columns}) to stdout`)), createWriteStream(file));
      plan.push({ table, columns, file });
    }
    const bytes = plan.reduce((sum, p) => sum + statSync(p.file).size, 0);
    const t0 = performance.now();
    await target.query('begin');
    for (const p of plan)
      await pipeline(createReadStream(p.file), target.query(copyFrom(`copy "${p.table}" (${p.columns}) from stdin`)));
    await target.query('commit');
    return { ms: performance.now() - t0, bytes };
  } finally {
    await source.end();
    await target.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function documentedQueries(orm: CrybOrm, url: string, serverId: string) {
  const raw = new Client({ connectionString: url });
  await raw.connect();
  try {
    const out: Record<string, unknown> = {};
    for (const [name, sql] of Object.entries(DOCUMENTED_QUERIES)) {
      const time = async (run: () => Promise<unknown>) => {
        for (let i = 0; i < 5; i++) await run();
        const samples: number[] = [];
        for (let i = 0; i < QUERY_RUNS; i++) {
          const t0 = performance.now();
          await run();
          samples.push(performance.now() - t0);
        }
        return round3(
          percentile(
            samples.sort((a, b) => a - b),
            50,
          ),
        );
      };
      const rows = (await raw.query(sql, [serverId])).rowCount;
      const rawMs = await time(() => raw.query(sql, [serverId]));
      // The ORM's execute inlines the value (MikroORM 6 has no bind parameters): the same SQL text otherwise.
      const ormSql = sql.replace('$1', '?');
      const ormMs = await time(() => orm.em.fork().getConnection().execute(ormSql, [serverId]));
      const { rows: planRows } = await raw.query(`explain (analyze, buffers) ${sql.replace(/;$/, '')}`, [serverId]);
      out[name] = {
        rows,
        rawPgP50Ms: rawMs,
        ormExecuteP50Ms: ormMs,
        ormOverRaw: round3(ormMs / rawMs),
        plan: planRows.map((r) => r['QUERY PLAN']),
      };
    }
    return out;
  } finally {
    await raw.end();
  }
}

async function main(): Promise<void> {
  const seeded = await scratchDatabase('cryb_bench_seed');
  const baseline = await scratchDatabase('cryb_bench_copy');
  let orm: CrybOrm | undefined;
  let baseOrm: CrybOrm | undefined;
  try {
    orm = await createOrm({ clientUrl: seeded.url, migrations: 'ignore', logger: toStderr });
    await migrate(orm);
    baseOrm = await createOrm({ clientUrl: baseline.url, migrations: 'ignore', logger: toStderr });
    await migrate(baseOrm);
    await baseOrm.close(true);
    baseOrm = undefined;
    const report = await seedScenario(orm.em.fork(), { scenario: SCENARIO, seed: 42, log: (line) => toStderr(line) });
    toStderr('[bench] exporting the seeded rows, then COPY into a fresh database');
    const copy = await copyBaseline(seeded.url, baseline.url);
    const largest = report.world.servers[0].id;
    const queries = await documentedQueries(orm, seeded.url, largest);
    const copyRate = Math.round(report.totalRows / (copy.ms / 1000));
    console.log(
      JSON.stringify(
        {
          bench: 'seed-large',
          scenario: SCENARIO,
          seed: {
            wallMs: report.wallMs,
            rows: report.totalRows,
            rowsPerSecond: report.rowsPerSecond,
            peakRssMb: report.peakRssMb,
            phases: report.phases,
            rowsByTable: report.rows,
            invariantsHold: report.violations.length === 0,
          },
          copy: {
            wallMs: Math.round(copy.ms),
            rows: report.totalRows,
            rowsPerSecond: copyRate,
            megabytes: round3(copy.bytes / 1e6),
          },
          ratio: {
            seedTimeOverCopyTime: round3(report.wallMs / copy.ms),
            seedRateVsCopy: round3(report.rowsPerSecond / copyRate),
          },
          goal: {
            seedTimeOverCopyTime: 1.5,
            met: report.wallMs / copy.ms <= 1.5,
            peakRssUnderMb: 1536,
            rssMet: report.peakRssMb < 1536,
          },
          documentedQueries: { serverId: largest, members: report.world.servers[0].memberIds.length, ...queries },
          machine: machine(await seeded.serverVersion()),
        },
        null,
        2,
      ),
    );
  } finally {
    await orm?.close(true);
    await baseOrm?.close(true);
    if (process.env.KEEP_SCRATCH === '1') toStderr(`[bench] kept ${seeded.url}`);
    else await seeded.drop();
    await baseline.drop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
