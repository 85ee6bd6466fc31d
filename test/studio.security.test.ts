import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStudio, type Studio } from '../src/studio';
import { useTestDatabase } from './support/db';
import { type Answer, call, studioWorld } from './studio.world';

const db = useTestDatabase();
let world: Awaited<ReturnType<typeof studioWorld>>;
let readOnly: Studio;
let writable: Studio;
const TOKEN = 'a-long-enough-secret-token';

beforeAll(async () => {
  world = await studioWorld(db);
  readOnly = await startStudio({ orm: db().orm, port: 0, log: () => undefined });
  writable = await startStudio({ orm: db().orm, port: 0, write: true, log: () => undefined });
});
afterAll(async () => {
  await readOnly?.close();
  await writable?.close();
});

/** Everything a write could touch: the messaging counts plus memberships and bans. */
async function snapshot() {
  const [extra] = await db().sql(
    `select (select count(*)::int from "ServerMember") as members, (select count(*)::int from "Ban") as bans`,
  );
  return { ...(await world.helpers.counts()), ...extra };
}

/** The write studio's CSRF token, as a browser gets it: in the page and in a SameSite=Strict cookie. */
async function csrf(): Promise<{ token: string; cookie: string }> {
  const page = await call(writable.url, `/servers/${world.server.id}`);
  const token = /<meta name="csrf-token" content="([^"]+)"\s*\/?>/.exec(page.body)![1];
  const setCookie = String(page.headers['set-cookie']);
  expect(setCookie).toContain('SameSite=Strict');
  expect(setCookie).toContain('HttpOnly');
  return { token, cookie: setCookie.split(';')[0] };
}

const post = (
  studio: Studio,
  path: string,
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Answer> =>
  call(studio.url, path, {
    method: 'POST',
    body: new URLSearchParams(form).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  });

async function refusedWith(action: () => Promise<Answer>, status: number, text?: string) {
  const before = await snapshot();
  const answer = await action();
  expect(answer.status, answer.body.slice(0, 300)).toBe(status);
  if (text) expect(answer.body).toContain(text);
  expect(await snapshot()).toEqual(before);
}

describe('read-only by default', () => {
  it('offers no write forms and refuses every POST', async () => {
    const page = await call(readOnly.url, `/servers/${world.server.id}`);
    expect(page.body).not.toContain('method="post"');
    expect(page.body).not.toContain('csrf-token');
    await refusedWith(
      () => post(readOnly, '/actions/kick', { server: world.server.id, target: world.carol.id, actor: world.owner.id }),
      403,
      'read-only',
    );
    expect((await call(readOnly.url, '/actions/kick')).status).toBe(405);
  });
});

describe('write mode: domain methods behind CSRF protection', () => {
  const kick = (actor: string) => ({ server: world.server.id, target: world.carol.id, actor });

  it('refuses a POST without the token, with the field but not the cookie, or from another origin', async () => {
    const { token, cookie } = await csrf();
    await refusedWith(() => post(writable, '/actions/kick', kick(world.owner.id), { cookie }), 403, 'CSRF');
    await refusedWith(() => post(writable, '/actions/kick', { ...kick(world.owner.id), _csrf: token }), 403, 'CSRF');
    await refusedWith(
      () => post(writable, '/actions/kick', { ...kick(world.owner.id), _csrf: `${token}x` }, { cookie }),
      403,
      'CSRF',
    );
    await refusedWith(
      () =>
        post(
          writable,
          '/actions/kick',
          { ...kick(world.owner.id), _csrf: token },
          { cookie, origin: 'http://evil.example' },
        ),
      403,
      'cross-origin',
    );
    await refusedWith(
      () => post(writable, '/actions/kick', { ...kick(world.owner.id), _csrf: token }, { cookie, origin: 'null' }),
      403,
      'cross-origin',
    );
    await refusedWith(
      () =>
        call(writable.url, '/actions/kick', {
          method: 'POST',
          body: '{}',
          headers: { cookie, 'content-type': 'application/json' },
        }),
      400,
    );
  });

  it('acts as the chosen actor, so the domain refuses what that actor may not do', async () => {
    const { token, cookie } = await csrf();
    await refusedWith(
      () => post(writable, '/actions/kick', { ...kick(world.bob.id), _csrf: token }, { cookie }),
      403,
      'MISSING_PERMISSION',
    );
    await refusedWith(
      () =>
        post(
          writable,
          '/actions/kick',
          { server: world.server.id, target: world.owner.id, actor: world.alice.id, _csrf: token },
          { cookie },
        ),
      409,
      'HIERARCHY_VIOLATION',
    );
    await refusedWith(
      () => post(writable, '/actions/kick', { ...kick('Nobody#0001'), _csrf: token }, { cookie }),
      404,
      'NOT_FOUND',
    );
    await refusedWith(
      () => post(writable, '/actions/ban', { ...kick(world.owner.id), _csrf: token }, { cookie }),
      400,
      'reason',
    );
    await refusedWith(
      () =>
        post(
          writable,
          '/actions/delete-message',
          { message: world.script.id, actor: world.carol.id, _csrf: token },
          { cookie },
        ),
      403,
      'MISSING_PERMISSION',
    );
  });

  it('kicks through MembershipRepository.kick, with its audit entry', async () => {
    const { token, cookie } = await csrf();
    const answer = await post(
      writable,
      '/actions/kick',
      { ...kick(`${world.alice.username}#${world.alice.discriminator}`), reason: 'spam', _csrf: token },
      { cookie },
    );
    expect(answer.status, answer.body.slice(0, 300)).toBe(303);
    expect(answer.headers.location).toBe(`/servers/${world.server.id}?done=kicked`);
    expect(
      await db().sql(`select 1 from "ServerMember" where "serverId" = $1 and "userId" = $2`, [
        world.server.id,
        world.carol.id,
      ]),
    ).toEqual([]);
    const audit = await db().sql(
      `select "actorId"::text as actor, "targetId"::text as target, reason from "AuditLogEntry" where "serverId" = $1
        and "actionType" = 20`,
      [world.server.id],
    );
    expect(audit).toEqual([{ actor: world.alice.id, target: world.carol.id, reason: 'spam' }]);
  });

  it('deletes a message through MessageService.deleteMessage', async () => {
    const { token, cookie } = await csrf();
    const answer = await post(
      writable,
      '/actions/delete-message',
      { message: world.script.id, actor: world.bob.id, _csrf: token },
      { cookie },
    );
    expect(answer.status, answer.body.slice(0, 300)).toBe(303);
    expect(await db().sql(`select 1 from "Message" where id = $1`, [world.script.id])).toEqual([]);
    // The domain method's own effects: the MESSAGE_DELETE event went to the outbox with the delete.
    const events = await world.helpers.eventsOfType('MESSAGE_DELETE');
    expect(events.map((e) => e.payload)).toEqual([expect.objectContaining({ id: world.script.id })]);
  });
});

describe('binding and tokens', () => {
  it('binds beyond loopback only with a token', async () => {
    await expect(startStudio({ orm: db().orm, port: 0, host: '0.0.0.0' })).rejects.toThrow(/token/);
    await expect(startStudio({ orm: db().orm, port: 0, host: '0.0.0.0', token: 'short' })).rejects.toThrow(/token/);
    const open = await startStudio({ orm: db().orm, port: 0, host: '0.0.0.0', token: TOKEN, log: () => undefined });
    try {
      const port = new URL(open.url).port;
      expect((await call(`http://127.0.0.1:${port}/`, '/api/servers')).status).toBe(401);
      expect(
        (await call(`http://127.0.0.1:${port}/`, '/api/servers', { headers: { authorization: `Bearer ${TOKEN}` } }))
          .status,
      ).toBe(200);
    } finally {
      await open.close();
    }
  });

  it('asks every request for the token: bearer, or ?token= once and then a cookie', async () => {
    const guarded = await startStudio({ orm: db().orm, port: 0, token: TOKEN, log: () => undefined });
    try {
      expect((await call(guarded.url, '/')).status).toBe(401);
      expect(
        (await call(guarded.url, '/', { headers: { authorization: 'Bearer wrong-token-of-some-length' } })).status,
      ).toBe(401);
      expect((await call(guarded.url, '/?token=wrong')).status).toBe(401);
      const once = await call(guarded.url, `/servers?token=${TOKEN}`);
      expect(once.status).toBe(303);
      expect(once.headers.location).toBe('/servers');
      const cookie = String(once.headers['set-cookie']);
      expect(cookie).toContain('HttpOnly');
      expect(cookie).toContain('SameSite=Strict');
      expect((await call(guarded.url, '/servers', { headers: { cookie: cookie.split(';')[0] } })).status).toBe(200);
    } finally {
      await guarded.close();
    }
  });

  it('answers only to loopback host names without a token (no DNS rebinding)', async () => {
    const port = new URL(readOnly.url).port;
    expect((await call(readOnly.url, '/api/servers', { headers: { host: `evil.example:${port}` } })).status).toBe(421);
    expect((await call(readOnly.url, '/api/servers', { headers: { host: `localhost:${port}` } })).status).toBe(200);
  });
});

describe('cross-site requests and origins', () => {
  it('refuses any request a browser marks Sec-Fetch-Site: cross-site, GET or POST, writing nothing', async () => {
    await refusedWith(
      () => call(readOnly.url, '/api/servers', { headers: { 'sec-fetch-site': 'cross-site' } }),
      403,
      'cross-site',
    );
    await refusedWith(
      () => call(readOnly.url, '/', { headers: { 'sec-fetch-site': 'cross-site' } }),
      403,
      'cross-site',
    );
    const { token, cookie } = await csrf();
    const kick = { server: world.server.id, target: world.carol.id, actor: world.owner.id, _csrf: token };
    await refusedWith(
      () => post(writable, '/actions/kick', kick, { cookie, 'sec-fetch-site': 'cross-site' }),
      403,
      'cross-site',
    );
    for (const site of ['same-origin', 'none'])
      expect((await call(readOnly.url, '/api/servers', { headers: { 'sec-fetch-site': site } })).status).toBe(200);
  });

  it('compares the Origin scheme too: https:// or another scheme on the same host:port is another origin', async () => {
    const { token, cookie } = await csrf();
    const host = new URL(writable.url).host;
    const kick = { server: world.server.id, target: world.carol.id, actor: world.owner.id, _csrf: token };
    for (const origin of [`https://${host}`, `ws://${host}`, `ftp://${host}`])
      await refusedWith(() => post(writable, '/actions/kick', kick, { cookie, origin }), 403, 'cross-origin');
  });
});

describe('the studio has its own small pool', () => {
  /** Connections to this test's database, other than the sampler's own. */
  async function connections(sampler: Client): Promise<{ total: number; studio: number; health: number }> {
    const { rows } = await sampler.query<{ total: number; studio: number; health: number }>(
      `select count(*)::int as total, count(*) filter (where application_name = 'cryb-studio')::int as studio,
        count(*) filter (where application_name = 'cryb-health')::int as health
         from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`,
      [db().name],
    );
    return rows[0];
  }

  it('a flood of 200 concurrent requests queues or gets 503, and never holds more than the pool (3) of connections', async () => {
    const sampler = new Client({ connectionString: db().url });
    await sampler.connect();
    const studio = await startStudio({ orm: db().orm, port: 0, log: () => undefined, maxQueued: 20 });
    try {
      const baseline = await connections(sampler);
      let sampling = true;
      let peak = { total: 0, studio: 0, health: 0 };
      const sampled = (async () => {
        while (sampling) {
          const now = await connections(sampler);
          peak = {
            total: Math.max(peak.total, now.total),
            studio: Math.max(peak.studio, now.studio),
            health: Math.max(peak.health, now.health),
          };
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      const paths = ['/api/health', '/api/servers', '/', `/servers/${world.server.id}`];
      const answers = await Promise.all(
        Array.from({ length: 200 }, (_, i) => call(studio.url, paths[i % paths.length])),
      );
      sampling = false;
      await sampled;
      const statuses = answers.map((a) => a.status);
      expect(new Set(statuses)).toEqual(new Set([200, 503]));
      expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(20);
      for (const busy of answers.filter((a) => a.status === 503 && a.json))
        expect(busy.json.error.code).toBe('STUDIO_BUSY');
      // (The file's other two studios keep their own idle connections: the baseline counts them.)
      expect(peak.studio - baseline.studio).toBeLessThanOrEqual(3);
      expect(peak.studio).toBeGreaterThan(baseline.studio);
      // The health panel reads through the pool: no connection of its own per request.
      expect(peak.health).toBe(0);
      expect(peak.total).toBeLessThanOrEqual(baseline.total + 3);
      // And it still answers once the flood is over.
      expect((await call(studio.url, '/api/health')).json.reachable).toBe(true);
    } finally {
      await studio.close();
      await sampler.end();
    }
  }, 120_000);

  it('its connections carry a statement_timeout: a statement past it is cancelled and answered 503', async () => {
    const studio = await startStudio({ orm: db().orm, port: 0, log: () => undefined, statementTimeoutMs: 1 });
    try {
      const answers = await Promise.all(
        ['/api/health', '/api/health', '/api/entities', '/api/servers'].map((path) => call(studio.url, path)),
      );
      const timedOut = answers.filter((a) => a.status === 503);
      expect(timedOut.length).toBeGreaterThan(0);
      for (const a of timedOut) expect(a.json.error.code).toBe('STATEMENT_TIMEOUT');
    } finally {
      await studio.close();
    }
  });

  it('closing the studio closes its pool and leaves the service ORM untouched', async () => {
    const sampler = new Client({ connectionString: db().url });
    await sampler.connect();
    try {
      const before = await connections(sampler);
      const studio = await startStudio({ orm: db().orm, port: 0, log: () => undefined });
      await Promise.all(Array.from({ length: 6 }, () => call(studio.url, '/api/servers')));
      expect((await connections(sampler)).studio).toBeGreaterThan(before.studio);
      await studio.close();
      expect((await connections(sampler)).studio).toBe(before.studio);
      expect(await db().fork().getConnection().execute('select 1 as one')).toEqual([{ one: 1 }]);
    } finally {
      await sampler.end();
    }
  });
});
