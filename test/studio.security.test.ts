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
  const [extra] = await db().sql(`select (select count(*)::int from "ServerMember") as members, (select count(*)::int from "Ban") as bans`);
  return { ...(await world.helpers.counts()), ...extra };
}

/** The write studio's CSRF token, as a browser gets it: in the page and in a SameSite=Strict cookie. */
async function csrf(): Promise<{ token: string; cookie: string }> {
  const page = await call(writable.url, `/servers/${world.server.id}`);
  const token = /<meta name="csrf-token" content="([^"]+)">/.exec(page.body)![1]!;
  const setCookie = String(page.headers['set-cookie']);
  expect(setCookie).toContain('SameSite=Strict');
  expect(setCookie).toContain('HttpOnly');
  return { token, cookie: setCookie.split(';')[0]! };
}

const post = (studio: Studio, path: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Answer> =>
  call(studio.url, path, { method: 'POST', body: new URLSearchParams(form).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });

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
    await refusedWith(() => post(readOnly, '/actions/kick', { server: world.server.id, target: world.carol.id, actor: world.owner.id }), 403, 'read-only');
    expect((await call(readOnly.url, '/actions/kick')).status).toBe(405);
  });
});

describe('write mode: domain methods behind CSRF protection', () => {
  const kick = (actor: string) => ({ server: world.server.id, target: world.carol.id, actor });

  it('refuses a POST without the token, with the field but not the cookie, or from another origin', async () => {
    const { token, cookie } = await csrf();
    await refusedWith(() => post(writable, '/actions/kick', kick(world.owner.id), { cookie }), 403, 'CSRF');
    await refusedWith(() => post(writable, '/actions/kick', { ...kick(world.owner.id), _csrf: token }), 403, 'CSRF');
    await refusedWith(() => post(writable, '/actions/kick', { ...kick(world.owner.id), _csrf: `${token}x` }, { cookie }), 403, 'CSRF');
    await refusedWith(() => post(writable, '/actions/kick', { ...kick(world.owner.id), _csrf: token }, { cookie, origin: 'http://evil.example' }), 403, 'cross-origin');
    await refusedWith(() => post(writable, '/actions/kick', { ...kick(world.owner.id), _csrf: token }, { cookie, origin: 'null' }), 403, 'cross-origin');
    await refusedWith(() => call(writable.url, '/actions/kick', { method: 'POST', body: '{}', headers: { cookie, 'content-type': 'application/json' } }), 400);
  });

  it('acts as the chosen actor, so the domain refuses what that actor may not do', async () => {
    const { token, cookie } = await csrf();
    await refusedWith(() => post(writable, '/actions/kick', { ...kick(world.bob.id), _csrf: token }, { cookie }), 403, 'MISSING_PERMISSION');
    await refusedWith(() => post(writable, '/actions/kick', { server: world.server.id, target: world.owner.id, actor: world.alice.id, _csrf: token }, { cookie }), 409, 'HIERARCHY_VIOLATION');
    await refusedWith(() => post(writable, '/actions/kick', { ...kick('Nobody#0001'), _csrf: token }, { cookie }), 404, 'NOT_FOUND');
    await refusedWith(() => post(writable, '/actions/ban', { ...kick(world.owner.id), _csrf: token }, { cookie }), 400, 'reason');
    await refusedWith(() => post(writable, '/actions/delete-message', { message: world.script.id, actor: world.carol.id, _csrf: token }, { cookie }), 403, 'MISSING_PERMISSION');
  });

  it('kicks through MembershipRepository.kick, with its audit entry', async () => {
    const { token, cookie } = await csrf();
    const answer = await post(writable, '/actions/kick', { ...kick(`${world.alice.username}#${world.alice.discriminator}`), reason: 'spam', _csrf: token }, { cookie });
    expect(answer.status, answer.body.slice(0, 300)).toBe(303);
    expect(answer.headers.location).toBe(`/servers/${world.server.id}?done=kicked`);
    expect(await db().sql(`select 1 from "ServerMember" where "serverId" = $1 and "userId" = $2`, [world.server.id, world.carol.id])).toEqual([]);
    const audit = await db().sql(`select "actorId"::text as actor, "targetId"::text as target, reason from "AuditLogEntry" where "serverId" = $1 and "actionType" = 20`, [world.server.id]);
    expect(audit).toEqual([{ actor: world.alice.id, target: world.carol.id, reason: 'spam' }]);
  });

  it('deletes a message through MessageService.deleteMessage', async () => {
    const { token, cookie } = await csrf();
    const answer = await post(writable, '/actions/delete-message', { message: world.script.id, actor: world.bob.id, _csrf: token }, { cookie });
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
      expect((await call(`http://127.0.0.1:${port}/`, '/api/servers', { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    } finally {
      await open.close();
    }
  });

  it('asks every request for the token: bearer, or ?token= once and then a cookie', async () => {
    const guarded = await startStudio({ orm: db().orm, port: 0, token: TOKEN, log: () => undefined });
    try {
      expect((await call(guarded.url, '/')).status).toBe(401);
      expect((await call(guarded.url, '/', { headers: { authorization: 'Bearer wrong-token-of-some-length' } })).status).toBe(401);
      expect((await call(guarded.url, '/?token=wrong')).status).toBe(401);
      const once = await call(guarded.url, `/servers?token=${TOKEN}`);
      expect(once.status).toBe(303);
      expect(once.headers.location).toBe('/servers');
      const cookie = String(once.headers['set-cookie']);
      expect(cookie).toContain('HttpOnly');
      expect(cookie).toContain('SameSite=Strict');
      expect((await call(guarded.url, '/servers', { headers: { cookie: cookie.split(';')[0]! } })).status).toBe(200);
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
