/**
 * The database URLs the package accepts, and what their options mean to MikroORM and `pg`.
 *
 * The platform's existing services pass Prisma-style options in DATABASE_URL
 * (`?pgbouncer=true&connection_limit=20`). `pg` would forward unknown query parameters to the server
 * as startup parameters, which PostgreSQL and pgbouncer reject, so they are read here and removed.
 */

export interface DatabaseUrlOptions {
  /** The URL with the package-level options removed: what `pg` connects to. */
  url: string;
  /** `connection_limit=N`: the pool's maximum for this URL (MikroORM `pool.max`). */
  poolMax?: number;
  /**
   * `pgbouncer=true`: the URL points at pgbouncer in transaction pooling mode. Nothing changes in
   * how queries are sent (MikroORM inlines values and `pg` uses unnamed prepared statements), but
   * LISTEN and session-level state do not survive there, so LISTEN needs DATABASE_DIRECT_URL.
   */
  pgbouncer: boolean;
}

const MAX_POOL = 10_000;

export const PERCENT_ENCODING_HINT =
  'percent-encode special characters in the user name and password (# as %23, @ as %40, / as %2F, : as %3A, ? as ' +
  '%3F, % as %25; encodeURIComponent does it)';

export function parseDatabaseUrl(raw: string, what = 'DATABASE_URL'): DatabaseUrlOptions {
  let parsed: URL;
  try {
    parsed = new URL(raw.trim());
  } catch {
    throw new Error(
      `${what} is not a URL: expected postgresql://user[:password]@host[:port]/database; ${PERCENT_ENCODING_HINT}`,
    );
  }
  // A '#' in a password starts a URL fragment: the rest of the URL silently vanishes.
  if (parsed.hash)
    throw new Error(
      `${what} has a '#' outside a query value, so part of it would be ignored; ${PERCENT_ENCODING_HINT}`,
    );
  if (parsed.protocol !== 'postgresql:' && parsed.protocol !== 'postgres:') {
    throw new Error(`${what} must start with postgresql:// or postgres:// (got "${parsed.protocol}")`);
  }
  let poolMax: number | undefined;
  const limit = parsed.searchParams.get('connection_limit');
  if (limit !== null) {
    poolMax = Number(limit);
    if (!Number.isInteger(poolMax) || poolMax < 1 || poolMax > MAX_POOL) {
      throw new Error(`${what}: connection_limit must be an integer from 1 to ${MAX_POOL} (got "${limit}")`);
    }
    parsed.searchParams.delete('connection_limit');
  }
  let pgbouncer = false;
  const bouncer = parsed.searchParams.get('pgbouncer');
  if (bouncer !== null) {
    if (bouncer !== 'true' && bouncer !== 'false')
      throw new Error(`${what}: pgbouncer must be true or false (got "${bouncer}")`);
    pgbouncer = bouncer === 'true';
    parsed.searchParams.delete('pgbouncer');
  }
  return { url: parsed.toString(), poolMax, pgbouncer };
}

/** DATABASE_REPLICA_URLS: comma-separated URLs of streaming replicas; empty or unset means none. */
export function replicaUrlsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  const raw = env.DATABASE_REPLICA_URLS?.trim();
  if (!raw) return [];
  return raw
    .split(',')
    .map((url) => url.trim())
    .filter((url) => url.length > 0)
    .map((url, i) => {
      parseDatabaseUrl(url, `DATABASE_REPLICA_URLS[${i}]`);
      return url;
    });
}

/**
 * A URL that reaches PostgreSQL itself, never pgbouncer: for LISTEN (the outbox listener) and for
 * anything that needs a session. DATABASE_DIRECT_URL when set, else DATABASE_URL unless it says
 * pgbouncer=true.
 */
export function directDatabaseUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.DATABASE_DIRECT_URL) return parseDatabaseUrl(env.DATABASE_DIRECT_URL, 'DATABASE_DIRECT_URL').url;
  if (!env.DATABASE_URL) return undefined;
  const main = parseDatabaseUrl(env.DATABASE_URL);
  if (main.pgbouncer) {
    throw new Error(
      'DATABASE_URL points at pgbouncer (pgbouncer=true): set DATABASE_DIRECT_URL to the server itself for LISTEN',
    );
  }
  return main.url;
}

/** The URL with its password masked, for messages and reports. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/** Whether the caller asked for the embedded server when no URL is given (the option, else CRYB_EMBEDDED=1). */
export function embeddedRequested(option?: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  return option ?? (env.CRYB_EMBEDDED === '1' || env.CRYB_EMBEDDED === 'true');
}

export const NOT_CONFIGURED_MESSAGE =
  'DATABASE_URL is not set: set it to postgresql://user:password@host:5432/database ' +
  '(or pass createOrm({ clientUrl })); ' +
  'for development, createOrm({ embedded: true }) or CRYB_EMBEDDED=1 starts an embedded PostgreSQL instead';
