import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type PgTool = 'pg_dump' | 'pg_restore' | 'psql' | 'initdb' | 'pg_ctl' | 'pg_basebackup' | 'postgres';

/** What to install when a tool is missing: the server binaries live in another package than the client ones. */
const PACKAGE_HINT: Record<PgTool, string> = {
  pg_dump:
    'the PostgreSQL client tools: Debian/Ubuntu `apt-get install postgresql-client-15` (or `postgresql-client`), ' +
    'RHEL `dnf install postgresql15`, macOS `brew install libpq`',
  pg_restore:
    'the PostgreSQL client tools: Debian/Ubuntu `apt-get install postgresql-client-15` (or `postgresql-client`), ' +
    'RHEL `dnf install postgresql15`, macOS `brew install libpq`',
  psql: 'the PostgreSQL client tools: Debian/Ubuntu `apt-get install postgresql-client-15` (or `postgresql-client`)',
  pg_basebackup:
    'the PostgreSQL client tools: Debian/Ubuntu `apt-get install postgresql-client-15` (or `postgresql-client`)',
  initdb: 'the PostgreSQL server: Debian/Ubuntu `apt-get install postgresql-15`',
  pg_ctl: 'the PostgreSQL server: Debian/Ubuntu `apt-get install postgresql-15`',
  postgres: 'the PostgreSQL server: Debian/Ubuntu `apt-get install postgresql-15`',
};

export class MissingToolError extends Error {
  constructor(readonly tool: PgTool) {
    super(
      `${tool} was not found (looked in CRYB_PG_BIN, /usr/lib/postgresql/*/bin and PATH): ` +
        `install ${PACKAGE_HINT[tool]}, or set CRYB_PG_BIN to the folder holding it`,
    );
    this.name = 'MissingToolError';
  }
}

/** Debian keeps each major's binaries apart; the newest major can dump and restore every older server. */
function debianBinDirs(): string[] {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => join(root, v, 'bin'));
}

/** The folders searched, best first. */
export function toolSearchPath(env: NodeJS.ProcessEnv = process.env): string[] {
  return [
    ...(env.CRYB_PG_BIN ? [env.CRYB_PG_BIN] : []),
    ...debianBinDirs(),
    ...(env.PATH ?? '').split(delimiter).filter(Boolean),
  ];
}

export function findPgTool(tool: PgTool, dirs: string[] = toolSearchPath()): string | null {
  for (const dir of dirs) {
    const candidate = join(dir, tool);
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

export function requirePgTool(tool: PgTool, dirs: string[] = toolSearchPath()): string {
  const found = findPgTool(tool, dirs);
  if (!found) throw new MissingToolError(tool);
  return found;
}

/** The major version a tool reports (`pg_dump (PostgreSQL) 15.20 ...` gives 15). */
export async function toolMajorVersion(path: string): Promise<number> {
  const { stdout } = await run(path, ['--version']);
  const match = /\(PostgreSQL\)\s+(\d+)/.exec(stdout);
  if (!match) throw new Error(`cannot read the version of ${path}: ${stdout.trim()}`);
  return Number(match[1]);
}

export interface ToolResult {
  stdout: string;
  stderr: string;
}

/** What may go on a tool's command line (`--dbname=`), and the password, which must not. */
export interface ToolConnection {
  dbname: string;
  password: string | null;
}

/**
 * Splits a connection URL for a child process: argv is readable by every user on the host (`ps`,
 * /proc/<pid>/cmdline), so the password (in the userinfo or a `password=` parameter) is taken out
 * and handed over in a 0600 passfile by `runTool`.
 */
export function toolConnection(url: string): ToolConnection {
  const parsed = new URL(url);
  const fromUserinfo = parsed.password ? decodeURIComponent(parsed.password) : null;
  const fromQuery = parsed.searchParams.get('password');
  parsed.password = '';
  parsed.searchParams.delete('password');
  return { dbname: parsed.toString(), password: fromQuery ?? fromUserinfo };
}

const CONNECTION_URL = /postgres(?:ql)?:\/\/[^\s'"`<>]+/gi;

/**
 * Masks every connection URL's password (userinfo and `password=` parameter) in a message, and
 * any known secret quoted literally (a tool may echo its input).
 */
export function redactSecrets(text: string, secrets: Array<string | null | undefined> = []): string {
  let out = text.replace(CONNECTION_URL, (match) => {
    try {
      const parsed = new URL(match);
      if (parsed.password) parsed.password = '***';
      if (parsed.searchParams.has('password')) parsed.searchParams.set('password', '***');
      return parsed.toString();
    } catch {
      return '(unparseable URL)';
    }
  });
  for (const secret of secrets) if (secret) out = out.split(secret).join('***');
  return out;
}

/** Rethrows whatever `work` throws with its message redacted; the error's type and code are kept. */
export async function withRedactedErrors<T>(
  secrets: Array<string | null | undefined>,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof Error) {
      error.message = redactSecrets(error.message, secrets);
      if (error.stack) error.stack = redactSecrets(error.stack, secrets);
    }
    throw error;
  }
}

/** A passfile line matching any host, port, database and user; `:` and `\\` are escaped as libpq requires. */
export function passfileLine(password: string): string {
  return `*:*:*:*:${password.replace(/\\/g, '\\\\').replace(/:/g, '\\:')}\n`;
}

export interface RunToolOptions {
  /** Handed to the tool through a 0600 passfile (PGPASSFILE), never its argv. */
  password?: string | null;
  env?: NodeJS.ProcessEnv;
}

/**
 * Runs a tool, turning a failure into an error that carries its stderr, with every URL and the
 * password redacted.
 */
export async function runTool(path: string, args: string[], options: RunToolOptions = {}): Promise<ToolResult> {
  const { password } = options;
  const env: NodeJS.ProcessEnv = { ...(options.env ?? process.env) };
  let passDir: string | null = null;
  if (password) {
    if (/[\r\n]/.test(password)) {
      // A passfile cannot hold a line break; the environment is the remaining place that is not argv.
      env.PGPASSWORD = password;
    } else {
      passDir = mkdtempSync(join(tmpdir(), 'cryb-pgpass-'));
      const passfile = join(passDir, 'pgpass');
      writeFileSync(passfile, passfileLine(password), { mode: 0o600 });
      env.PGPASSFILE = passfile;
      // PGPASSWORD would win over the passfile.
      delete env.PGPASSWORD;
    }
  }
  try {
    const { stdout, stderr } = await run(path, args, { env, maxBuffer: 64 * 1024 * 1024 });
    return { stdout, stderr };
  } catch (error) {
    const e = error as Error & { stderr?: string };
    const name = path.split('/').pop();
    // No cause: the tool's error carries its argv, stdout and stderr unredacted (URLs, the password);
    // this message is the redacted copy, and util.inspect would print a cause in full.
    // eslint-disable-next-line preserve-caught-error
    throw new Error(`${name} failed: ${redactSecrets((e.stderr ?? '').trim() || e.message, [password])}`);
  } finally {
    if (passDir) rmSync(passDir, { recursive: true, force: true });
  }
}
