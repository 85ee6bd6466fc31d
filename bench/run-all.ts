/**
 * npm run bench: every benchmark, one after the other (each in its own process, on its own scratch
 * database), then one JSON document on stdout, the same in bench/results/<timestamp>.json and
 * bench/results/latest.json, and a short table (figure, value, baseline, ratio, goal) on stderr.
 *
 *   npm run bench                      BENCH_ONLY=uow-flush,send-message npm run bench
 *
 * A bench that fails is reported as failed (with its exit code) and the others still run. With
 * BENCH_ONLY, the other benches' entries are kept from the previous latest.json (each carries its date).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');
const BENCHES = [
  'seed-large',
  'uow-flush',
  'uow-flush:semi-space-64',
  'send-message',
  'messages-read',
  'voice-joins',
  'events-overhead',
  'analytics-overhead',
];

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the benches' JSON output, read without a schema
type Json = Record<string, any>;
type Row = [figure: string, value: string, baseline: string, ratio: string, goal: string];

/** `file:variant`: a second run of a bench with different Node options. */
const VARIANTS: Record<string, Record<string, string>> = {
  'semi-space-64': { NODE_OPTIONS: '--max-semi-space-size=64' },
};
const fileOf = (name: string) => name.split(':')[0];

function runBench(name: string): Promise<{ code: number; json?: Json; seconds: number }> {
  const started = performance.now();
  const env = { ...process.env, ...(VARIANTS[name.split(':')[1] ?? ''] ?? {}) };
  return new Promise((done) => {
    const child = spawn(
      process.execPath,
      [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(ROOT, 'bench', `${fileOf(name)}.ts`)],
      { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('close', (code) => {
      const seconds = Math.round((performance.now() - started) / 1000);
      try {
        done({ code: code ?? 1, json: JSON.parse(out.slice(out.indexOf('{'))), seconds });
      } catch {
        done({ code: code || 1, seconds });
      }
    });
  });
}

/** A figure from a bench's JSON: a number formatted, a missing one '-', anything else as JSON writes it. */
const n = (x: unknown, digits = 0) =>
  typeof x === 'number'
    ? x.toLocaleString('en-US', { maximumFractionDigits: digits })
    : x === undefined || x === null
      ? '-'
      : typeof x === 'string'
        ? x
        : JSON.stringify(x);

/** The figures worth a line, beside their baseline (each bench has its own shape). */
function rows(name: string, j: Json): Row[] {
  const variant = name.includes(':') ? ` (${name.split(':')[1]})` : '';
  switch (fileOf(name)) {
    case 'seed-large':
      return [
        [
          `${j.scenario} seed: wall s / rows/s / peak RSS MB`,
          `${n(j.seed.wallMs / 1000, 1)} s, ${n(j.seed.rowsPerSecond)}/s, ${j.seed.peakRssMb} MB`,
          `COPY ${n(j.copy.wallMs / 1000, 1)} s, ${n(j.copy.rowsPerSecond)}/s`,
          `${j.ratio.seedTimeOverCopyTime}x time`,
          `<= 1.5x ${j.goal.met ? 'met' : 'MISSED'}`,
        ],
        ...['onlineMembers', 'hourlyActivity'].map((q): Row => [
          `documented query ${q} p50 ms`,
          n(j.documentedQueries[q].ormExecuteP50Ms, 2),
          `raw pg ${n(j.documentedQueries[q].rawPgP50Ms, 2)}`,
          `${j.documentedQueries[q].ormOverRaw}x`,
          '-',
        ]),
      ];
    case 'uow-flush': {
      const r = j.results;
      return ['uow', 'uowBatch1000', 'insertMany', 'copy']
        .filter((k) => !variant || k === 'uow')
        .map((k): Row => [
          `10k messages: ${k}${variant} rows/s`,
          n(r[k].rowsPerSecond),
          `raw INSERT ${n(r.rawInsert.rowsPerSecond)}`,
          `${r[k].vsRawInsert}x`,
          k.startsWith('uow') ? `>= 0.4x ${r[k].vsRawInsert >= 0.4 ? 'met' : 'MISSED'}` : '-',
        ]);
    }
    case 'send-message':
      return [
        [
          `sendMessage, ${j.clients} clients: sends/s (p50 ms)`,
          `${n(j.orm.sendsPerSecond)} (${n(j.orm.p50Ms, 1)})`,
          `raw SQL ${n(j.rawPg.sendsPerSecond)} (${n(j.rawPg.p50Ms, 1)})`,
          `${j.ratio.throughputOrmVsRaw}x`,
          `within 2x ${j.goal.met ? 'met' : 'MISSED'}`,
        ],
        ...(j.rawPgOrmOrder
          ? [
              [
                `raw SQL in the ORM's write order, ${j.clients} clients`,
                `${n(j.rawPgOrmOrder.sendsPerSecond)} (${n(j.rawPgOrmOrder.p50Ms, 1)})`,
                `raw SQL ${n(j.rawPg.sendsPerSecond)}`,
                `${Math.round((100 * j.rawPgOrmOrder.sendsPerSecond) / j.rawPg.sendsPerSecond) / 100}x`,
                'diagnosis',
              ] as Row,
            ]
          : []),
        ...(j.oneClient
          ? [
              [
                'sendMessage, 1 client: sends/s (p50 ms)',
                `${n(j.oneClient.orm.sendsPerSecond)} (${n(j.oneClient.orm.p50Ms, 1)})`,
                `raw SQL ${n(j.oneClient.rawPg.sendsPerSecond)} (${n(j.oneClient.rawPg.p50Ms, 1)})`,
                `${Math.round((100 * j.oneClient.orm.sendsPerSecond) / j.oneClient.rawPg.sendsPerSecond) / 100}x`,
                '-',
              ] as Row,
            ]
          : []),
      ];
    case 'messages-read':
      return [
        [
          `history page @${n(j.dataset.messages)} msgs p50 ms`,
          n(j.history.orm.p50Ms, 2),
          `raw pg ${n(j.history.rawPg.p50Ms, 2)}`,
          `${j.history.ratio.p50OrmVsRaw}x`,
          j.history.goal,
        ],
        [
          `search @${n(j.dataset.messages)} msgs p50 ms`,
          n(j.search.orm.p50Ms, 2),
          `raw pg ${n(j.search.rawPg.p50Ms, 2)}`,
          `${j.search.ratio.p50OrmVsRaw}x`,
          j.search.goal,
        ],
      ];
    case 'voice-joins':
      return [
        [
          'voice joins under contention: joins/s',
          n(j.orm.joinsPerSecond),
          `raw pg ${n(j.rawPg.joinsPerSecond)}`,
          `${j.ratio.joinsPerSecondOrmVsRaw}x`,
          '-',
        ],
      ];
    case 'events-overhead':
      return Object.entries(j)
        .filter(([, v]) => v && typeof v === 'object' && 'serial' in (v as Json))
        .map(([k, v]): Row => {
          const c = (v as Json).concurrent ?? (v as Json).serial;
          return [
            `outbox on ${k}: ops/s`,
            n(c.events?.opsPerSec),
            `no events ${n(c.noEvents?.opsPerSec)}`,
            `${c.overheadRatio}x slower`,
            String(j.goal ?? '-'),
          ];
        });
    case 'analytics-overhead': {
      const c = j.concurrent ?? j.serial;
      return [
        [
          'send with its analytics row: ops/s',
          n(c.analytics?.opsPerSec),
          `without ${n(c.noAnalytics?.opsPerSec)}`,
          `${c.slowdown}x slower`,
          String(j.goal ?? '-'),
        ],
      ];
    }
    default:
      return [];
  }
}

function table(all: Row[]): string {
  const head: Row = ['figure', 'value', 'baseline', 'ratio', 'goal'];
  const widths = head.map((_, i) => Math.max(...[head, ...all].map((r) => r[i].length)));
  const line = (r: Row) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...all.map(line)].join('\n');
}

async function main(): Promise<void> {
  const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
  const selected = BENCHES.filter(
    (b) => (!only || only.includes(b)) && existsSync(join(ROOT, 'bench', `${fileOf(b)}.ts`)),
  );
  const dir = join(ROOT, 'bench', 'results');
  const previous: Json =
    only && existsSync(join(dir, 'latest.json'))
      ? (JSON.parse(readFileSync(join(dir, 'latest.json'), 'utf8')).results ?? {})
      : {};
  const results: Json = {};
  for (const name of BENCHES) {
    if (!selected.includes(name)) {
      if (previous[name]) results[name] = previous[name];
      continue;
    }
    console.error(`\n[bench] ===== ${name} =====`);
    const { code, json, seconds } = await runBench(name);
    results[name] = json
      ? { date: new Date().toISOString(), seconds, ...json }
      : { failed: true, exitCode: code, seconds };
  }
  const lines: Row[] = [];
  for (const [name, result] of Object.entries(results)) {
    try {
      lines.push(
        ...(result.failed ? [[name, 'FAILED', `exit ${result.exitCode}`, '-', '-'] as Row] : rows(name, result)),
      );
    } catch (error) {
      lines.push([name, 'see JSON', (error as Error).message.slice(0, 40), '-', '-']);
    }
  }
  const machine = Object.values(results).find((r) => r.machine)?.machine;
  const document = {
    date: new Date().toISOString(),
    machine,
    table: lines.map(([figure, value, baseline, ratio, goal]) => ({ figure, value, baseline, ratio, goal })),
    results,
  };
  mkdirSync(dir, { recursive: true });
  const text = JSON.stringify(document, null, 2);
  writeFileSync(join(dir, `${document.date.replace(/[:.]/g, '-')}.json`), text);
  writeFileSync(join(dir, 'latest.json'), text);
  console.log(text);
  const machineLine = machine
    ? `${machine.cpus} x ${machine.cpuModel}, Node ${machine.node}, ` +
      `PostgreSQL ${machine.postgres} (${machine.server}), load at end ${machine.loadAverageAtEnd}`
    : '?';
  console.error(`\n${table(lines)}\n\nmachine: ${machineLine}; ${document.date}`);
  if (Object.values(results).some((r) => r.failed)) process.exitCode = 1;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
