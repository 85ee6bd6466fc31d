/**
 * One way for every command (the npm scripts and the cryb-db bin) to fail: one line on stderr,
 * a documented exit code, and a stack trace only when CRYB_DEBUG=1.
 */
import { DatabaseNotConfigured, DatabaseUnavailable, DomainError, MigrationsPending } from '../domain/errors';
import { describeConnectFailure } from '../db/connection-check';

/** The exit codes every command shares (`cryb-db health` keeps its own 0/1/2, see its usage). */
export const EXIT = {
  ok: 0,
  /** The work failed, or a check found problems. */
  failed: 1,
  /** Refused to act without a flag or a confirmation (nothing was written). */
  refused: 2,
  /** Bad usage: an unknown command, option or argument. */
  usage: 3,
  /** No database: not configured, not reachable, wrong credentials or database name, bad URL, timeout. */
  unavailable: 4,
  /** The database is behind the package's migrations. */
  migrationsPending: 5,
} as const;

export class UsageError extends Error {
  override name = 'UsageError';
}

/** A refusal the user can lift (a flag, a confirmation); its message says how. */
export class Refused extends Error {
  override name = 'Refused';
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNRESET',
  '28000',
  '28P01',
  '3D000',
]);

/** The one line and the exit code for an error that reached the top of a command. */
export function explainFailure(error: unknown, url?: string): { line: string; code: number } {
  const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
  if (error instanceof UsageError) return { line: `error: ${message}`, code: EXIT.usage };
  if (error instanceof Refused) return { line: `refused: ${message}`, code: EXIT.refused };
  if (error instanceof MigrationsPending) return { line: `error: ${message}`, code: EXIT.migrationsPending };
  if (error instanceof DatabaseNotConfigured || error instanceof DatabaseUnavailable)
    return { line: `error: ${message}`, code: EXIT.unavailable };
  if (error instanceof Error && error.name === 'EmbeddedServerError')
    return { line: `error: ${message}`, code: EXIT.unavailable };
  if (error instanceof DomainError) return { line: `error: ${message} (${error.code})`, code: EXIT.failed };
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) {
    return {
      line:
        'error: the database is unavailable: ' + describeConnectFailure(error, url ?? process.env.DATABASE_URL ?? ''),
      code: EXIT.unavailable,
    };
  }
  return { line: `error: ${message}`, code: EXIT.failed };
}

export function debugging(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CRYB_DEBUG === '1' || env.CRYB_DEBUG === 'true';
}

/** Prints the failure as one line (plus the stack under CRYB_DEBUG=1) and returns its exit code. */
export function reportFailure(error: unknown, err: (line: string) => void = (line) => console.error(line)): number {
  const { line, code } = explainFailure(error);
  err(line);
  if (debugging() && error instanceof Error && error.stack) err(error.stack);
  return code;
}

/** Colours only for a terminal: MikroORM's logger (and the CLI) read these at each call. */
export function plainOutputUnlessTerminal(stream: { isTTY?: boolean } = process.stdout): void {
  if (!stream.isTTY && process.env.FORCE_COLOR === undefined) process.env.MIKRO_ORM_NO_COLOR = '1';
}

/**
 * Runs a script's main: its return value (or 0) is the exit code; a failure prints one line.
 * process.exit, not exitCode: a pool or a listener left open must not keep the process alive.
 */
export function runCommand(main: () => Promise<number | void>): void {
  plainOutputUnlessTerminal();
  main().then(
    (code) => process.exit(code ?? EXIT.ok),
    (error: unknown) => process.exit(reportFailure(error)),
  );
}
