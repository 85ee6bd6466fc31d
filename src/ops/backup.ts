import { mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Client } from 'pg';
import { parseDatabaseUrl, redactUrl } from '../db/connection-options';
import { requirePgTool, runTool, toolConnection, toolMajorVersion, withRedactedErrors } from './pg-tools';

export interface BackupOptions {
  /** The database to back up (a direct URL: pg_dump needs a session, not pgbouncer's transaction pool). */
  url: string;
  /** Folder of backups; created when missing. */
  dir: string;
  /** Keep the newest N backups of this database in `dir` and delete older ones; 0 keeps all. Default 7. */
  keep?: number;
  /** Folders to look for pg_dump in; default CRYB_PG_BIN, /usr/lib/postgresql/<newest>/bin, PATH. */
  toolDirs?: string[];
}

export interface BackupResult {
  file: string;
  bytes: number;
  database: string;
  durationMs: number;
  /** Older backups deleted by the retention rule. */
  removed: string[];
}

export interface BackupFile {
  file: string;
  database: string;
  takenAt: Date;
  bytes: number;
}

const NAME = /^(.+)-(\d{8}T\d{6}\d{3}Z)\.dump$/;

/**
 * A database name as one file-name component: letters, digits, `_` and `-` stay, every other byte
 * becomes `%XX`. Reversible (retention and listings keep databases apart), and whatever the name
 * holds (`/`, `..`, NUL, a leading dot) the file stays a plain entry of the backup folder.
 */
export function encodeDatabaseForFile(database: string): string {
  return encodeURIComponent(database).replace(
    /[^A-Za-z0-9_%-]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`,
  );
}

function decodeDatabaseFromFile(stem: string): string | null {
  try {
    return decodeURIComponent(stem);
  } catch {
    return null;
  }
}

/** The backup's file name for `database` taken at `date`: `<encoded database>-<UTC timestamp>.dump`. */
export function backupFileName(database: string, date: Date): string {
  return `${encodeDatabaseForFile(database)}-${stamp(date)}.dump`;
}

/** The backup's path inside `dir`; refuses (as a backstop to the encoding) anything that would land elsewhere. */
export function backupPath(dir: string, database: string, date: Date): string {
  const folder = resolve(dir);
  const file = resolve(folder, backupFileName(database, date));
  if (dirname(file) !== folder)
    throw new Error(`the backup file for database "${encodeDatabaseForFile(database)}" would leave ${folder}`);
  return file;
}

function stamp(date: Date): string {
  return date.toISOString().replace(/[-:.]/g, '');
}

function parseStamp(value: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z$/.exec(value)!;
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], +m[7]));
}

function databaseOf(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  if (!name) throw new Error(`${redactUrl(url)} names no database`);
  return name;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/**
 * The server's major version, and the database the URL really reaches: `pg` and libpq decode a
 * URL's path differently (`%2F` stays for one), so the file name and the tool's --dbname come from
 * the server's own `current_database()`, never the URL text.
 */
async function connectedDatabase(url: string): Promise<{ major: number; database: string }> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rows } = await client.query<{ v: string; db: string }>(
      `select current_setting('server_version_num') as v, current_database() as db`,
    );
    return { major: Math.floor(Number(rows[0].v) / 10000), database: rows[0].db };
  } finally {
    await client.end();
  }
}

/** Backups in `dir`, newest first; only files this package named (`<database>-<UTC timestamp>.dump`). */
export function listBackups(dir: string, database?: string): BackupFile[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .map((name) => {
      const match = NAME.exec(name);
      return { name, match, database: match ? decodeDatabaseFromFile(match[1]) : null };
    })
    .filter(
      (x): x is { name: string; match: RegExpExecArray; database: string } =>
        x.database !== null && (!database || x.database === database),
    )
    .map(({ name, match, database }) => ({
      file: resolve(dir, name),
      database,
      takenAt: parseStamp(match[2]),
      bytes: statSync(join(dir, name)).size,
    }))
    .sort((a, b) => b.takenAt.getTime() - a.takenAt.getTime() || b.file.localeCompare(a.file));
}

/**
 * `pg_dump -Fc` (custom format: compressed, restorable table by table, in parallel) into
 * `<dir>/<database>-<UTC timestamp>.dump`. The dump goes to a .partial file first, so a failed or
 * interrupted run never leaves a file that looks like a backup, and retention never counts one.
 */
export async function backupDatabase(options: BackupOptions): Promise<BackupResult> {
  return withRedactedErrors([passwordOf(options.url)], () => backup(options));
}

/** The URL's password, for scrubbing it from messages; null when it has none or does not parse. */
function passwordOf(url: string): string | null {
  try {
    return toolConnection(url).password;
  } catch {
    return null;
  }
}

async function backup(options: BackupOptions): Promise<BackupResult> {
  const keep = options.keep ?? 7;
  if (!Number.isInteger(keep) || keep < 0)
    throw new Error(`keep must be a whole number of backups, 0 for all (got ${options.keep})`);
  const given = parseDatabaseUrl(options.url).url;
  databaseOf(given);
  const pgDump = requirePgTool('pg_dump', options.toolDirs);
  const toolMajor = await toolMajorVersion(pgDump);
  const { major, database } = await connectedDatabase(given);
  const url = withDatabase(given, database);
  if (toolMajor < major) {
    throw new Error(
      `${pgDump} is PostgreSQL ${toolMajor}, older than the server (${major}): pg_dump must be the server's major or ` +
        `newer; install postgresql-client-${major}`,
    );
  }
  mkdirSync(options.dir, { recursive: true });
  const started = Date.now();
  const file = backupPath(options.dir, database, new Date(started));
  const partial = `${file}.partial`;
  const { dbname, password } = toolConnection(url);
  try {
    await runTool(pgDump, ['--format=custom', '--compress=6', `--file=${partial}`, `--dbname=${dbname}`], { password });
    renameSync(partial, file);
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  }
  const removed =
    keep === 0
      ? []
      : listBackups(options.dir, database)
          .slice(keep)
          .map((b) => b.file);
  for (const old of removed) rmSync(old);
  return { file, bytes: statSync(file).size, database, durationMs: Date.now() - started, removed };
}

export interface RestoreOptions {
  /** A backup file, or a folder (its newest backup is used). */
  from: string;
  /** Any URL on the target server (its database part is ignored): where the restored database is created. */
  serverUrl: string;
  /** The database to restore into; default `<original>_restored_<timestamp>`, a new one. */
  database?: string;
  /** Drop and replace `database` when it exists. Without it an existing database is never touched. */
  replace?: boolean;
  /** Only say what would happen, and list the backup's contents. */
  dryRun?: boolean;
  /** Folders to look for pg_restore in; default as for backups. */
  toolDirs?: string[];
}

export interface RestorePlan {
  file: string;
  database: string;
  exists: boolean;
  /** 'refuse': the database exists and `replace` was not given (a dry run says so; a restore throws). */
  action: 'create' | 'replace' | 'refuse';
  /** pg_restore --list: the backup's table of contents. */
  contents: string[];
}

export interface RestoreResult extends RestorePlan {
  restored: boolean;
  url?: string;
  durationMs?: number;
}

function pickBackup(from: string): string {
  const stat = (() => {
    try {
      return statSync(from);
    } catch {
      throw new Error(`no backup at ${from}`);
    }
  })();
  if (!stat.isDirectory()) return resolve(from);
  const newest = listBackups(from)[0];
  if (!newest) throw new Error(`no backups (<database>-<timestamp>.dump) in ${from}`);
  return newest.file;
}

/**
 * Restores a `pg_dump -Fc` backup into a new database (or, with `replace`, over an existing one)
 * in one transaction: a failed restore drops the half-made database instead of leaving it.
 */
export async function restoreBackup(options: RestoreOptions): Promise<RestoreResult> {
  return withRedactedErrors([passwordOf(options.serverUrl)], () => restore(options));
}

async function restore(options: RestoreOptions): Promise<RestoreResult> {
  const file = pickBackup(options.from);
  const pgRestore = requirePgTool('pg_restore', options.toolDirs);
  const listing = await runTool(pgRestore, ['--list', file]);
  const contents = listing.stdout.split('\n').filter((line) => line.trim() && !line.startsWith(';'));
  const original = decodeDatabaseFromFile(NAME.exec(basename(file))?.[1] ?? '') || 'cryb';
  const database = options.database ?? `${original}_restored_${stamp(new Date()).toLowerCase()}`;
  if (!/^[A-Za-z0-9_-]{1,63}$/.test(database))
    throw new Error(`database name "${database}" must be 1-63 letters, digits, _ or -`);
  const serverUrl = parseDatabaseUrl(options.serverUrl).url;
  const admin = new Client({ connectionString: withDatabase(serverUrl, 'postgres'), connectionTimeoutMillis: 10_000 });
  admin.on('error', () => undefined);
  await admin.connect();
  try {
    const exists = ((await admin.query('select 1 from pg_database where datname = $1', [database])).rowCount ?? 0) > 0;
    const plan: RestorePlan = {
      file,
      database,
      exists,
      action: !exists ? 'create' : options.replace ? 'replace' : 'refuse',
      contents,
    };
    if (options.dryRun) return { ...plan, restored: false };
    if (plan.action === 'refuse') {
      throw new Error(
        `database "${database}" already exists on ${new URL(serverUrl).host}: choose another name, or pass --replace ` +
          `to drop it and restore over it`,
      );
    }
    const quoted = `"${database.replace(/"/g, '""')}"`;
    if (exists) await admin.query(`drop database ${quoted} with (force)`);
    await admin.query(`create database ${quoted} template template0`);
    const url = withDatabase(serverUrl, database);
    const started = Date.now();
    try {
      const { dbname, password } = toolConnection(url);
      await runTool(pgRestore, ['--single-transaction', '--exit-on-error', '--no-owner', `--dbname=${dbname}`, file], {
        password,
      });
    } catch (error) {
      await admin.query(`drop database if exists ${quoted} with (force)`);
      throw error;
    }
    return { ...plan, restored: true, url, durationMs: Date.now() - started };
  } finally {
    await admin.end().catch(() => undefined);
  }
}
