import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type PgTool = 'pg_dump' | 'pg_restore' | 'psql' | 'initdb' | 'pg_ctl' | 'pg_basebackup' | 'postgres';

/** What to install when a tool is missing: the server binaries live in another package than the client ones. */
const PACKAGE_HINT: Record<PgTool, string> = {
  pg_dump: 'the PostgreSQL client tools: Debian/Ubuntu `apt-get install postgresql-client-15` (or `postgresql-client`), RHEL `dnf install postgresql15`, macOS `brew install libpq`',
  pg_restore: 'the PostgreSQL client tools: Debian/Ubuntu `apt-get install postgresql-client-15` (or `postgresql-client`), RHEL `dnf install postgresql15`, macOS `brew install libpq`',
  psql: 'the PostgreSQL client tools: Debian/Ubuntu `apt-get install postgresql-client-15` (or `postgresql-client`)',
  pg_basebackup: 'the PostgreSQL client tools: Debian/Ubuntu `apt-get install postgresql-client-15` (or `postgresql-client`)',
  initdb: 'the PostgreSQL server: Debian/Ubuntu `apt-get install postgresql-15`',
  pg_ctl: 'the PostgreSQL server: Debian/Ubuntu `apt-get install postgresql-15`',
  postgres: 'the PostgreSQL server: Debian/Ubuntu `apt-get install postgresql-15`',
};

export class MissingToolError extends Error {
  constructor(readonly tool: PgTool) {
    super(`${tool} was not found (looked in CRYB_PG_BIN, /usr/lib/postgresql/*/bin and PATH): install ${PACKAGE_HINT[tool]}, or set CRYB_PG_BIN to the folder holding it`);
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
  return [...(env.CRYB_PG_BIN ? [env.CRYB_PG_BIN] : []), ...debianBinDirs(), ...(env.PATH ?? '').split(delimiter).filter(Boolean)];
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

/** Runs a tool, turning a failure into an error that carries its stderr. */
export async function runTool(path: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ToolResult> {
  try {
    const { stdout, stderr } = await run(path, args, { env, maxBuffer: 64 * 1024 * 1024 });
    return { stdout, stderr };
  } catch (error) {
    const e = error as Error & { stderr?: string };
    const name = path.split('/').pop();
    throw new Error(`${name} failed: ${(e.stderr ?? '').trim() || e.message}`);
  }
}
