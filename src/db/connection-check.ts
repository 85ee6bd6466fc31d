/**
 * Opening a connection the way every part of the package does (with a connect timeout), and
 * turning the ways it fails into one line a person can act on.
 */
import { Client } from 'pg';
import { DatabaseUnavailable } from '../domain/errors';
import { parseDatabaseUrl, redactUrl } from './connection-options';

/** How long a connection attempt may take before it fails: CRYB_DB_CONNECT_TIMEOUT_MS, else 10 s. */
export function connectTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.CRYB_DB_CONNECT_TIMEOUT_MS;
  const value = raw === undefined || raw === '' ? 10_000 : Number(raw);
  return Number.isInteger(value) && value > 0 ? value : 10_000;
}

type ConnectError = Error & { code?: string; errno?: string };

/** Why a connection to `url` failed, in one line without the password (no stack, no raw pg object). */
export function describeConnectFailure(error: unknown, url: string, timeoutMs = connectTimeoutMs()): string {
  const where = hostOf(url);
  const e = (error ?? {}) as ConnectError;
  const message = String(e.message ?? error).split('\n')[0];
  let reason: string;
  switch (e.code) {
    case 'ECONNREFUSED':
      reason =
        `nothing accepts connections at ${where} (connection refused): ` +
        'is PostgreSQL running there, and is the port right?';
      break;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      reason = `the host of ${where} is not known (DNS lookup failed)`;
      break;
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      reason = `${where} cannot be reached (${e.code})`;
      break;
    case 'ECONNRESET':
      reason = `${where} closed the connection at once: is it PostgreSQL (or pgbouncer) listening there?`;
      break;
    case '28000':
      reason = `${message} (at ${where}): check the user name in the URL`;
      break;
    case '28P01':
      reason =
        `${message} (at ${where}): check the password; special characters in it must be percent-encoded ` +
        '(# as %23, @ as %40, / as %2F, : as %3A, % as %25)';
      break;
    case '3D000':
      reason = `${message} (at ${where}): create it (createdb), then apply the migrations with \`npx cryb-db migrate\``;
      break;
    default:
      if (/timeout expired|connection timeout/i.test(message)) {
        reason =
          `no answer from ${where} within ${timeoutMs} ms (connect timeout, CRYB_DB_CONNECT_TIMEOUT_MS): ` +
          'is a PostgreSQL server listening on that port?';
      } else if (/SASL|client password must be a string/i.test(message)) {
        reason = `${where} asks for a password and the URL has none (or it could not be used): ${message}`;
      } else if (/Connection terminated/i.test(message)) {
        reason = `${where} ended the connection before it was ready: is it PostgreSQL (or pgbouncer) listening there?`;
      } else {
        reason = message;
      }
  }
  return `${reason} [${redactUrl(url)}]`;
}

function hostOf(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname || 'localhost'}:${parsed.port || '5432'}`;
  } catch {
    return 'the server';
  }
}

/** The URL pg will receive, or DatabaseUnavailable saying what is wrong with it. */
export function usableUrl(raw: string, what = 'DATABASE_URL'): string {
  try {
    return parseDatabaseUrl(raw, what).url;
  } catch (error) {
    throw new DatabaseUnavailable((error as Error).message);
  }
}

/**
 * Connects once and runs `select 1`, so a bad URL, credentials or database fail here with one
 * line, before the ORM loads its metadata or a pool starts retrying.
 */
export async function probeConnection(url: string, timeoutMs = connectTimeoutMs()): Promise<void> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
  } catch (error) {
    throw new DatabaseUnavailable(describeConnectFailure(error, url, timeoutMs));
  } finally {
    await client.end().catch(() => undefined);
  }
}
