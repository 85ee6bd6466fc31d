import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DomainError, MissingPermission, NotFound, ValidationFailed } from '../domain/errors';
import type { CrybOrm } from '../db/orm';
import { STUDIO_CSS, STUDIO_JS } from './assets';
import { type Ctx, json, page, type Reply, type Route } from './context';
import { html } from './html';
import { studioModel } from './metadata';
import { ROUTES } from './routes';
import { RequestGate, StudioBusy, studioOrm } from './pool';

export interface StudioOptions {
  orm: CrybOrm;
  /** Default 5555 (as Prisma Studio); 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. Any other address needs `token`. */
  host?: string;
  /** Enables the domain actions (kick, ban, delete a message as a chosen actor). Off by default. */
  write?: boolean;
  /** Required on every request when set: `Authorization: Bearer <token>` or `?token=` once (then a cookie). */
  token?: string;
  /**
   * The database URL the health panel names (redacted); defaults to the ORM's. The panel reads
   * through the studio's pool.
   */
  databaseUrl?: string;
  /** Connections of the studio's own pool (separate from `orm`'s). Default 3. */
  poolSize?: number;
  /** statement_timeout of the studio's connections, in ms. Default 15000. */
  statementTimeoutMs?: number;
  /** Requests waiting for a database slot beyond `poolSize` running; more get 503 at once. Default 50. */
  maxQueued?: number;
  log?: (line: string) => void;
}

export interface Studio {
  url: string;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
const TOKEN_COOKIE = 'cryb_studio_token';
const CSRF_COOKIE = 'cryb_studio_csrf';
const MAX_BODY = 64 * 1024;

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  // same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on the studio's own form posts.
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

function sameSecret(given: string | undefined | null, expected: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookies(req: IncomingMessage): Map<string, string> {
  const jar = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    try {
      jar.set(part.slice(0, eq).trim(), decodeURIComponent(part.slice(eq + 1).trim()));
    } catch {
      // A malformed cookie is ignored, as a browser would.
    }
  }
  return jar;
}

/**
 * An Origin header naming this very server: its scheme (the studio speaks http only) and host (an
 * opaque `null` origin is not).
 */
function sameOrigin(origin: string, host: string | undefined): boolean {
  try {
    const parsed = new URL(origin);
    return parsed.protocol === 'http:' && parsed.host === host;
  } catch {
    return false;
  }
}

function wholeNumber(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min)
    throw new Error(`${name} must be a whole number of at least ${min} (got ${value})`);
  return value;
}

function compileRoutes(routes: Route[]) {
  return routes.map((route) => {
    const names: string[] = [];
    const source = route.path.replace(/:([a-zA-Z]+)/g, (_, name: string) => {
      names.push(name);
      return '([^/]+)';
    });
    return { ...route, regex: new RegExp(`^${source}$`), names };
  });
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded'))
    throw new ValidationFailed('content-type', 'must be application/x-www-form-urlencoded');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new ValidationFailed('body', `must be at most ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** The SQLSTATE a PostgreSQL error carries ('' for any other error). */
function sqlState(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

function errorReply(
  error: unknown,
  api: boolean,
  ctx: Pick<Ctx, 'write' | 'csrf'>,
  log: (line: string) => void,
): Reply {
  let status = 500;
  let body: { code: string; message: string; details?: unknown } = {
    code: 'INTERNAL',
    message: 'the studio failed to answer; see its console',
  };
  if (error instanceof DomainError) {
    status =
      error instanceof ValidationFailed
        ? 400
        : error instanceof NotFound
          ? 404
          : error instanceof MissingPermission
            ? 403
            : 409;
    body = error.toJSON();
  } else if (/^22/.test(sqlState(error))) {
    // A data exception (a value PostgreSQL cannot take for its column) that validation let through.
    status = 400;
    body = {
      code: 'VALIDATION_FAILED',
      message: `the database refused a value: ${(error as Error).message.split('\n')[0]}`,
    };
  } else if (error instanceof StudioBusy) {
    status = 503;
    body = { code: 'STUDIO_BUSY', message: error.message };
  } else if ((error as { code?: unknown })?.code === '57014') {
    // statement_timeout: the studio's pool cancels what runs too long.
    status = 503;
    body = { code: 'STATEMENT_TIMEOUT', message: 'the query took longer than the studio allows (statement_timeout)' };
  } else {
    log(`studio: ${(error as Error)?.stack ?? String(error)}`);
  }
  if (api) return json({ error: body }, status);
  return page(
    ctx,
    `Error ${status}`,
    undefined,
    html`<p class="error"><code>${body.code}</code> ${body.message}</p>
      <p><a href="/">back to the dashboard</a></p>`,
    status,
  );
}

/**
 * Starts the studio's HTTP server. Loopback only unless a token is given; read-only unless `write`.
 * Every page reads through its own forked EntityManager; writes go through domain methods only.
 */
export async function startStudio(options: StudioOptions): Promise<Studio> {
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? ((line: string) => console.error(line));
  if (!LOOPBACK.has(host) && (!options.token || options.token.length < 16)) {
    throw new Error(
      `binding to ${host} exposes the database beyond this machine: give a token of at least 16 characters (the ` +
        `token option; STUDIO_TOKEN for npm run db:studio)`,
    );
  }
  const token = options.token ?? null;
  const write = options.write ?? false;
  const csrf = randomBytes(32).toString('base64url');
  const poolSize = wholeNumber('poolSize', options.poolSize ?? 3, 1);
  const statementTimeoutMs = wholeNumber('statementTimeoutMs', options.statementTimeoutMs ?? 15_000, 1);
  const gate = new RequestGate(poolSize, wholeNumber('maxQueued', options.maxQueued ?? 50, 0));
  const routes = compileRoutes(ROUTES);
  const databaseUrl = options.databaseUrl ?? options.orm.config.get('clientUrl') ?? null;
  const orm = await studioOrm(options.orm, { poolSize, statementTimeoutMs });
  const model = studioModel(orm);

  async function respond(req: IncomingMessage): Promise<Reply> {
    const url = new URL(req.url ?? '/', 'http://studio.invalid');
    const api = url.pathname.startsWith('/api/');
    const jar = cookies(req);
    const base = { write, csrf };
    const deny = (status: number, message: string): Reply =>
      api
        ? json({ error: { code: 'FORBIDDEN', message } }, status)
        : { status, type: 'text/plain; charset=utf-8', body: message };

    // A browser says when another site made the request (a link, a form, a fetch): none of those may reach the studio.
    if (req.headers['sec-fetch-site'] === 'cross-site') return deny(403, 'cross-site request refused');

    if (token) {
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const fromQuery = url.searchParams.get('token');
      if (fromQuery !== null && sameSecret(fromQuery, token) && req.method === 'GET') {
        url.searchParams.delete('token');
        const cookie = `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`;
        return {
          status: 303,
          type: 'text/plain',
          body: '',
          headers: { location: url.pathname + url.search, 'set-cookie': cookie },
        };
      }
      if (!sameSecret(bearer, token) && !sameSecret(jar.get(TOKEN_COOKIE), token))
        return deny(
          401,
          'this studio needs its token: open it with ?token=<token> or send Authorization: Bearer <token>',
        );
    } else {
      // Without a token, only this machine's names are answered: a web page cannot reach the studio by DNS rebinding.
      const hostname = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
      if (!LOOPBACK.has(hostname) && hostname !== host) return deny(421, `unexpected Host header ${hostname}`);
    }

    if (req.method === 'GET' && url.pathname === '/static/studio.css')
      return { status: 200, type: 'text/css; charset=utf-8', body: STUDIO_CSS };
    if (req.method === 'GET' && url.pathname === '/static/studio.js')
      return { status: 200, type: 'text/javascript; charset=utf-8', body: STUDIO_JS };

    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const candidates = routes.filter((r) => r.regex.test(url.pathname));
    const route = candidates.find((r) => r.method === method);
    if (!route) {
      if (candidates.length)
        return { ...deny(405, 'method not allowed'), headers: { allow: candidates.map((r) => r.method).join(', ') } };
      return errorReply(new NotFound('page', url.pathname), api, base, log);
    }

    let form: URLSearchParams | null = null;
    if (method === 'POST') {
      if (!write) return deny(403, 'the studio is read-only: start it with --write to act through domain methods');
      if (req.headers.origin !== undefined && !sameOrigin(req.headers.origin, req.headers.host))
        return deny(403, 'cross-origin request refused');
      try {
        form = await readForm(req);
      } catch (error) {
        return errorReply(error, api, base, log);
      }
      if (!sameSecret(form.get('_csrf'), csrf) || !sameSecret(jar.get(CSRF_COOKIE), csrf))
        return deny(403, 'missing or wrong CSRF token: reload the page and try again');
    }

    const match = route.regex.exec(url.pathname)!;
    const params: Record<string, string> = {};
    try {
      route.names.forEach((name, i) => (params[name] = decodeURIComponent(match[i + 1])));
    } catch {
      return errorReply(new ValidationFailed('path', 'is not valid percent-encoding'), api, base, log);
    }
    try {
      return await gate.run(() =>
        route.handler({
          orm,
          em: orm.em.fork(),
          model,
          params,
          query: url.searchParams,
          form,
          write,
          csrf,
          databaseUrl,
        }),
      );
    } catch (error) {
      return errorReply(error, api, base, log);
    }
  }

  const server = createServer((req, res) => {
    respond(req)
      .then((reply) => {
        const headers: Record<string, string | string[]> = {
          ...SECURITY_HEADERS,
          'content-type': reply.type,
          ...reply.headers,
        };
        if (write && reply.type.startsWith('text/html')) {
          const csrfCookie = `${CSRF_COOKIE}=${csrf}; HttpOnly; SameSite=Strict; Path=/`;
          headers['set-cookie'] = headers['set-cookie'] ? [String(headers['set-cookie']), csrfCookie] : csrfCookie;
        }
        res.writeHead(reply.status, headers);
        res.end(req.method === 'HEAD' ? undefined : reply.body);
      })
      .catch((error: Error) => {
        log(`studio: ${error.stack ?? error.message}`);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error');
      });
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 5555, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await orm.close(true);
    throw error;
  }
  const boundPort = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${boundPort}/`,
    close: async () => {
      await new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      });
      await orm.close(true);
    },
  };
}
