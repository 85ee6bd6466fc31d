/**
 * npm run docs:performance: writes docs/performance.md from bench/results/latest.json, so every figure
 * the docs quote comes from one benchmark run and none is typed by hand. `-- --check` exits 1 when the
 * committed page differs from what the JSON gives (test/docs.test.ts checks the same).
 *
 * Goals come from the bench JSON where a bench states one; GOALS below holds the rest, in one place.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { STATEMENT_BUDGETS, STATEMENTS_BEFORE } from '../bench/statement-budgets';
import { BENCH_NOTES } from './performance-notes';

const ROOT = resolve(__dirname, '..');
export const LATEST_JSON = join(ROOT, 'bench', 'results', 'latest.json');
export const PERFORMANCE_DOC = join(ROOT, 'docs', 'performance.md');

interface Goal {
  text: string;
  /** Whether the ratio (or, for an absolute goal, the value) meets it. */
  met: (ratio: number, value: number) => boolean;
}

/** Goals that the bench JSON states only as text, or not at all. */
const GOALS: Record<string, Goal> = {
  historyP50: { text: 'p50 within 1.3x of raw pg', met: (ratio) => ratio <= 1.3 },
  searchP50: { text: 'p50 under 25 ms', met: (_ratio, p50) => p50 < 25 },
  sendOneClientP50: { text: 'p50 within 2x of raw SQL', met: (ratio) => ratio <= 2 },
  voiceJoins: { text: 'at least 0.5x the raw joins/s', met: (ratio) => ratio >= 0.5 },
  outboxMessageLike: { text: 'overhead under 1.2x', met: (ratio) => ratio < 1.2 },
  analyticsSlowdown: { text: 'slowdown at most 1.3x', met: (ratio) => ratio <= 1.3 },
};

export interface Figure {
  figure: string;
  value: string;
  baseline: string;
  ratio: string;
  goal: string;
  met: boolean | null;
}

function at(value: unknown, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>((v, key) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined), value);
}

function num(value: unknown, path: string): number {
  const found = at(value, path);
  if (typeof found !== 'number') throw new Error(`bench JSON: ${path} is not a number`);
  return found;
}

function str(value: unknown, path: string): string | undefined {
  const found = at(value, path);
  return typeof found === 'string' ? found : undefined;
}

const fmt = (x: number, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits });
const ratioOf = (a: number, b: number) => Math.round((1000 * a) / b) / 1000;

/** A figure whose goal is checked against its ratio (or its value) by a goal of GOALS. */
function checked(row: Omit<Figure, 'goal' | 'met'>, goal: Goal, ratio: number, value: number, text?: string): Figure {
  return { ...row, goal: text ?? goal.text, met: goal.met(ratio, value) };
}

const noGoal = (row: Omit<Figure, 'goal' | 'met'>): Figure => ({ ...row, goal: '-', met: null });

function seedLarge(j: unknown): Figure[] {
  const timeRatio = num(j, 'ratio.seedTimeOverCopyTime');
  const queries = ['onlineMembers', 'hourlyActivity'].map((q) =>
    noGoal({
      figure: `documented query ${q}, p50`,
      value: `${fmt(num(j, `documentedQueries.${q}.ormExecuteP50Ms`), 2)} ms`,
      baseline: `raw pg ${fmt(num(j, `documentedQueries.${q}.rawPgP50Ms`), 2)} ms`,
      ratio: `${num(j, `documentedQueries.${q}.ormOverRaw`)}x`,
    }),
  );
  return [
    {
      figure: `${str(j, 'scenario') ?? 'large'} seed, wall time`,
      value: `${fmt(num(j, 'seed.wallMs') / 1000, 1)} s (${fmt(num(j, 'seed.rowsPerSecond'))} rows/s)`,
      baseline: `COPY ${fmt(num(j, 'copy.wallMs') / 1000, 1)} s (${fmt(num(j, 'copy.rowsPerSecond'))} rows/s)`,
      ratio: `${timeRatio}x time`,
      goal: `at most ${num(j, 'goal.seedTimeOverCopyTime')}x COPY's time`,
      met: at(j, 'goal.met') === true,
    },
    {
      figure: 'large seed, peak RSS',
      value: `${fmt(num(j, 'seed.peakRssMb'))} MB`,
      baseline: '-',
      ratio: '-',
      goal: `under ${fmt(num(j, 'goal.peakRssUnderMb'))} MB`,
      met: at(j, 'goal.rssMet') === true,
    },
    ...queries,
  ];
}

function uowFlush(j: unknown, variant: string): Figure[] {
  const goal = num(j, 'goal.uowVsRawInsert');
  const kinds = variant ? ['uow'] : ['uow', 'uowBatch1000', 'insertMany', 'copy'];
  return kinds.map((kind) => {
    const ratio = num(j, `results.${kind}.vsRawInsert`);
    const row = {
      figure: `10k messages, ${kind}${variant ? ` (${variant})` : ''}`,
      value: `${fmt(num(j, `results.${kind}.rowsPerSecond`))} rows/s`,
      baseline: `raw INSERT ${fmt(num(j, 'results.rawInsert.rowsPerSecond'))} rows/s`,
      ratio: `${ratio}x`,
    };
    return kind.startsWith('uow') ? { ...row, goal: `at least ${goal}x raw INSERT`, met: ratio >= goal } : noGoal(row);
  });
}

function sendMessage(j: unknown): Figure[] {
  const clients = num(j, 'clients');
  const rate = (path: string) =>
    `${fmt(num(j, `${path}.sendsPerSecond`))} sends/s, p50 ${fmt(num(j, `${path}.p50Ms`), 1)} ms`;
  const figures: Figure[] = [
    {
      figure: `sendMessage, ${clients} clients`,
      value: rate('orm'),
      baseline: `raw SQL ${rate('rawPg')}`,
      ratio: `${num(j, 'ratio.throughputOrmVsRaw')}x throughput`,
      goal: at(j, 'goal.withinTwiceOfRaw') === true ? 'at least 0.5x raw throughput' : '-',
      met: at(j, 'goal.withinTwiceOfRaw') === true ? at(j, 'goal.met') === true : null,
    },
  ];
  if (at(j, 'rawPgOrmOrder')) {
    const ratio = ratioOf(num(j, 'rawPgOrmOrder.sendsPerSecond'), num(j, 'rawPg.sendsPerSecond'));
    figures.push(
      noGoal({
        figure: `raw SQL in the ORM's write order, ${clients} clients (diagnosis)`,
        value: rate('rawPgOrmOrder'),
        baseline: `raw SQL ${rate('rawPg')}`,
        ratio: `${ratio}x throughput`,
      }),
    );
  }
  if (at(j, 'oneClient')) {
    const p50Ratio = ratioOf(num(j, 'oneClient.orm.p50Ms'), num(j, 'oneClient.rawPg.p50Ms'));
    const row = {
      figure: 'sendMessage, 1 client',
      value: rate('oneClient.orm'),
      baseline: `raw SQL ${rate('oneClient.rawPg')}`,
    };
    figures.push(checked({ ...row, ratio: `${p50Ratio}x p50` }, GOALS.sendOneClientP50, p50Ratio, 0));
  }
  return figures;
}

function messagesRead(j: unknown): Figure[] {
  const messages = fmt(num(j, 'dataset.messages'));
  return (['history', 'search'] as const).map((kind) => {
    const ratio = num(j, `${kind}.ratio.p50OrmVsRaw`);
    const p50 = num(j, `${kind}.orm.p50Ms`);
    const row = {
      figure: `${kind === 'history' ? 'history page' : 'search, top 25'} at ${messages} messages`,
      value: `p50 ${fmt(p50, 2)} ms, p99 ${fmt(num(j, `${kind}.orm.p99Ms`), 2)} ms`,
      baseline: `raw pg p50 ${fmt(num(j, `${kind}.rawPg.p50Ms`), 2)} ms`,
      ratio: `${ratio}x p50`,
    };
    return checked(row, kind === 'history' ? GOALS.historyP50 : GOALS.searchP50, ratio, p50, str(j, `${kind}.goal`));
  });
}

function voiceJoins(j: unknown): Figure[] {
  const ratio = num(j, 'ratio.joinsPerSecondOrmVsRaw');
  const rate = (path: string) =>
    `${fmt(num(j, `${path}.joinsPerSecond`), 1)} joins/s, p50 ${fmt(num(j, `${path}.joinP50Ms`), 1)} ms`;
  const row = {
    figure: 'voice joins under contention',
    value: rate('orm'),
    baseline: `raw pg ${rate('rawPg')}`,
    ratio: `${ratio}x`,
  };
  return [checked(row, GOALS.voiceJoins, ratio, 0, str(j, 'goal'))];
}

function overhead(
  j: unknown,
  units: string[],
  withKey: string,
  withoutKey: string,
  ratioKey: string,
  label: string,
): Figure[] {
  return units.flatMap((unit) =>
    ['serial', 'concurrent'].map((mode) => {
      const base = unit ? `${unit}.${mode}` : mode;
      const ratio = num(j, `${base}.${ratioKey}`);
      const withVariant = `${base}.${withKey}`;
      const row = {
        figure: `${label}${unit ? ` on ${unit}` : ''}, ${clients(num(j, `${base}.workers`))}`,
        value: `${fmt(num(j, `${withVariant}.opsPerSec`))} ops/s, p50 ${fmt(num(j, `${withVariant}.p50Ms`), 2)} ms`,
        baseline: `without ${fmt(num(j, `${base}.${withoutKey}.opsPerSec`))} ops/s`,
        ratio: `${ratio}x slower`,
      };
      if (label === 'outbox')
        return unit === 'messageLike' ? checked(row, GOALS.outboxMessageLike, ratio, 0, str(j, 'goal')) : noGoal(row);
      return checked(row, GOALS.analyticsSlowdown, ratio, 0, str(j, 'goal'));
    }),
  );
}

function figuresOf(name: string, result: unknown): Figure[] {
  const [file, variant = ''] = name.split(':');
  switch (file) {
    case 'seed-large':
      return seedLarge(result);
    case 'uow-flush':
      return uowFlush(result, variant);
    case 'send-message':
      return sendMessage(result);
    case 'messages-read':
      return messagesRead(result);
    case 'voice-joins':
      return voiceJoins(result);
    case 'events-overhead':
      return overhead(result, ['messageLike', 'profileUpdate'], 'events', 'noEvents', 'overheadRatio', 'outbox');
    case 'analytics-overhead':
      return overhead(result, [''], 'analytics', 'noAnalytics', 'slowdown', 'send with its analytics row');
    default:
      return [];
  }
}

function machineLabel(machine: unknown): string {
  if (!machine) return 'unknown machine';
  const postgres = `PostgreSQL ${str(machine, 'postgres')} (${str(machine, 'server')})`;
  return `${num(machine, 'cpus')} x ${str(machine, 'cpuModel')}, Node ${str(machine, 'node')}, ${postgres}`;
}

/** The load average when a bench ended: the machine is shared, so it says how noisy the figures are. */
function loadAtEnd(machine: unknown): string {
  const load = at(machine, 'loadAverageAtEnd');
  return Array.isArray(load) ? `\n\nLoad average of the machine when it ended: ${load.join(' / ')}.` : '';
}

const clients = (n: number) => `${n} client${n === 1 ? '' : 's'}`;
const day = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
const cell = (text: string) => text.replace(/\|/g, '\\|');
const verdict = (met: boolean | null) => (met === null ? '-' : met ? 'met' : '**missed**');

/** The whole page, from the parsed latest.json: a pure function, so a test can regenerate it. */
export function renderPerformanceDoc(document: unknown): string {
  const results = (at(document, 'results') ?? {}) as Record<string, unknown>;
  const documentDate = str(document, 'date') ?? '';
  const machines: string[] = [];
  const machineId = (result: unknown) => {
    const label = machineLabel(at(result, 'machine') ?? at(document, 'machine'));
    if (!machines.includes(label)) machines.push(label);
    return `M${machines.indexOf(label) + 1}`;
  };
  const rows: string[] = [];
  const sections: string[] = [];
  for (const [name, result] of Object.entries(results)) {
    const date = day(str(result, 'date') ?? documentDate);
    if (at(result, 'failed')) {
      rows.push(`| ${name} | failed (exit ${String(at(result, 'exitCode'))}) | - | - | - | - | ${date} | - |`);
      continue;
    }
    const machine = machineId(result);
    for (const f of figuresOf(name, result)) {
      const cells = [f.figure, f.value, f.baseline, f.ratio, f.goal, verdict(f.met), date, machine];
      rows.push(`| ${cells.map(cell).join(' | ')} |`);
    }
    const note = BENCH_NOTES[name];
    const load = loadAtEnd(at(result, 'machine') ?? at(document, 'machine'));
    if (note) sections.push(`### ${name}\n\n${note.trim()}${load}\n`);
  }
  return [
    '# Performance',
    '',
    '<!-- Generated by `npm run docs:performance` from bench/results/latest.json. Do not edit by hand. -->',
    '',
    'What this page is for: how fast the package is next to the same work done without it. Every figure',
    'below comes from the last `npm run bench` (bench/results/latest.json, which holds the full JSON:',
    'latencies, plans, phases), beside a baseline measured in the same run on the same database.',
    'Ratios compare the two; absolute figures depend on the machine and its load, so quote ratios.',
    '',
    `Run of ${day(documentDate)}. To refresh: \`npm run bench\` (or \`BENCH_ONLY=name npm run bench\`), then`,
    '`npm run docs:performance`.',
    '',
    '| figure | value | baseline | ratio | goal | goal met | date | machine |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    'Machines:',
    '',
    ...machines.map((label, i) => `- M${i + 1}: ${label}`),
    '',
    '## Statement budgets',
    '',
    'How many SQL statements each hot operation sends, begin and commit included, as',
    '`test/write-path.statements.test.ts` counts them from the query log (it fails when an operation',
    'sends more than its budget), beside what it sent before every operation read its permissions and',
    'rules in one statement (commit d420d2e). From bench/statement-budgets.ts.',
    '',
    '| operation | statements before | budget now |',
    '|---|---|---|',
    ...Object.entries(STATEMENT_BUDGETS).map(
      ([operation, budget]) =>
        `| ${operation} | ${STATEMENTS_BEFORE[operation as keyof typeof STATEMENT_BUDGETS]} | ${budget} |`,
    ),
    '',
    '## What each benchmark measures',
    '',
    ...sections,
  ].join('\n');
}

function main(): void {
  const text = renderPerformanceDoc(JSON.parse(readFileSync(LATEST_JSON, 'utf8')));
  if (process.argv.includes('--check')) {
    if (readFileSync(PERFORMANCE_DOC, 'utf8') !== text) {
      console.error('docs/performance.md is stale: run npm run docs:performance');
      process.exitCode = 1;
    }
    return;
  }
  writeFileSync(PERFORMANCE_DOC, text);
  console.error(`wrote ${PERFORMANCE_DOC}`);
}

if (process.argv[1]?.endsWith('performance-doc.ts')) main();
