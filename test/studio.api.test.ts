import { describe, expect, it } from 'vitest';
import { ENTITIES } from '../src/entities';
import { useTestDatabase } from './support/db';
import { SCRIPT, useStudioWorld } from './studio.world';

const db = useTestDatabase();
const { get, world: worldOf, studio: studioOf } = useStudioWorld(db);

/** Follows `next` cursors to the end; returns every row. */
async function allPages(path: string): Promise<Record<string, string | null>[]> {
  const rows: Record<string, string | null>[] = [];
  let next: string | null = null;
  for (let i = 0; i < 100; i++) {
    const answer = await get(next ? `${path}&after=${next}` : path);
    expect(answer.status, answer.body).toBe(200);
    rows.push(...answer.json.rows);
    next = answer.json.next;
    if (!next) return rows;
  }
  throw new Error('paging did not end');
}

describe('pages', () => {
  it('serves every page, on loopback, with a strict content security policy', async () => {
    expect(studioOf().url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    for (const path of [
      '/',
      '/entities',
      '/entities/Message',
      '/servers',
      `/servers/${worldOf().server.id}`,
      `/servers/${worldOf().server.id}/permissions`,
      `/channels/${worldOf().textId}`,
      `/messages/${worldOf().hello.id}`,
      '/users',
      `/users/${worldOf().alice.id}`,
    ]) {
      const answer = await get(path);
      expect(answer.status, `${path}: ${answer.body.slice(0, 300)}`).toBe(200);
      expect(answer.headers['content-security-policy']).toContain("script-src 'self'");
      expect(answer.headers['x-content-type-options']).toBe('nosniff');
      expect(answer.headers['referrer-policy']).toBe('same-origin');
    }
    expect((await get('/nowhere')).status).toBe(404);
  });

  it('escapes attacker-controlled content everywhere it is shown', async () => {
    const escaped = '&lt;script&gt;window.__pwned = 1&lt;/script&gt;';
    for (const path of [
      `/channels/${worldOf().textId}`,
      `/messages/${worldOf().script.id}`,
      '/entities/Message',
      `/entities/Message/row?pk=${worldOf().script.id}`,
    ]) {
      const { body } = await get(path);
      expect(body, path).toContain(escaped);
      expect(body, path).not.toContain(SCRIPT);
    }
  });
});

describe('metadata-driven tables', () => {
  it('lists every entity with its exact row count', async () => {
    const { json } = await get('/api/entities');
    expect(json.entities.map((e: { name: string }) => e.name).sort()).toEqual(ENTITIES.map((e) => e.name).sort());
    const count = async (table: string) =>
      Number((await db().sql<{ n: string }>(`select count(*) as n from "${table}"`))[0].n);
    for (const [name, table] of [
      ['User', 'User'],
      ['Message', 'Message'],
      ['MemberRole', 'ServerMemberRole'],
      ['Reaction', 'Reaction'],
    ]) {
      const entity = json.entities.find((e: { name: string }) => e.name === name);
      expect(entity.table).toBe(table);
      expect(entity.rows, name).toBe(await count(table));
      expect(entity.exactCount).toBe(true);
    }
  });

  it('pages by keyset through every row exactly once, in primary key order', async () => {
    const rows = await allPages('/api/entities/Message/rows?limit=2');
    const ids = (await db().sql<{ id: string }>(`select id::text from "Message" order by id`)).map((r) => r.id);
    expect(rows.map((r) => r.id)).toEqual(ids);
  });

  it('sorts by an indexed column in both directions, the primary key breaking ties', async () => {
    const asc = await allPages('/api/entities/Message/rows?limit=3&sort=channelId');
    const desc = await allPages('/api/entities/Message/rows?limit=3&sort=channelId&dir=desc');
    const expected = (await db().sql<{ id: string }>(`select id::text from "Message" order by "channelId", id`)).map(
      (r) => r.id,
    );
    expect(asc.map((r) => r.id)).toEqual(expected);
    expect(desc.map((r) => r.id)).toEqual([...expected].reverse());
  });

  it('pages a composite key holding a timestamp exactly (microseconds kept in the cursor)', async () => {
    const rows = await allPages('/api/entities/MessageAnalytics/rows?limit=7&sort=userId&dir=desc');
    const expected = await db().sql<{ id: string }>(
      `select id::text from "MessageAnalytics" order by "userId" desc, "timestamp" desc, id desc`,
    );
    expect(rows.map((r) => r.id)).toEqual(expected.map((r) => r.id));
    expect(expected.length).toBeGreaterThan(50);
    const first = rows[0];
    const row = await get(
      `/api/entities/MessageAnalytics/row?pk=${encodeURIComponent(first.timestamp!)}&pk=${first.id}`,
    );
    expect(row.json.row).toEqual(first);
  });

  it('pages a nullable sort column with nulls where the index puts them', async () => {
    const asc = await allPages('/api/entities/Channel/rows?limit=2&sort=parentId');
    const desc = await allPages('/api/entities/Channel/rows?limit=2&sort=parentId&dir=desc');
    const expected = (
      await db().sql<{ id: string }>(`select id::text from "Channel" order by "parentId" nulls last, id`)
    ).map((r) => r.id);
    expect(asc.map((r) => r.id)).toEqual(expected);
    expect(desc.map((r) => r.id)).toEqual([...expected].reverse());
    expect(asc.some((r) => r.parentId === null) && asc.some((r) => r.parentId !== null)).toBe(true);
  });

  it('filters per column with operators fit for its type; values are data, never SQL', async () => {
    const users = (await get('/api/entities/User/rows?f.username=alice')).json.rows;
    expect(users.map((u: { id: string }) => u.id)).toEqual([worldOf().alice.id]);
    const script = (await get(`/api/entities/Message/rows?f.content=${encodeURIComponent('<script>')}`)).json.rows;
    expect(script.map((m: { id: string }) => m.id)).toEqual([worldOf().script.id]);
    // LIKE wildcards are matched literally.
    expect((await get('/api/entities/User/rows?f.username=%25')).json.rows).toEqual([]);
    const injected = (await get(`/api/entities/User/rows?f.username=${encodeURIComponent("' or 1=1 --")}`)).json.rows;
    expect(injected).toEqual([]);
    const inChannel = (await get(`/api/entities/Message/rows?f.channelId=${worldOf().textId}&op.channelId=eq`)).json
      .rows;
    expect(inChannel.length).toBe(3);
    const threads = (await get('/api/entities/Channel/rows?op.parentId=notnull')).json.rows;
    expect(threads.every((c: { parentId: string | null }) => c.parentId !== null)).toBe(true);
    const unpinned = (
      await get(`/api/entities/Message/rows?f.pinned=false&f.serverId=${worldOf().server.id}&op.serverId=eq`)
    ).json.rows;
    const expected = await db().sql<{ id: string }>(
      `select id::text from "Message" where not pinned and "serverId" = $1 order by id`,
      [worldOf().server.id],
    );
    expect(unpinned.map((m: { id: string }) => m.id)).toEqual(expected.map((r) => r.id));
    expect(expected.length).toBeGreaterThan(3);
    const since = (
      await get(
        `/api/entities/User/rows?f.createdAt=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}` +
          '&op.createdAt=gt',
      )
    ).json.rows;
    expect(since).toEqual([]);
  });

  it('refuses names and values the metadata does not allow, with typed errors', async () => {
    const refusals = [
      '/api/entities/User/rows?f.password=x',
      '/api/entities/User/rows?op.username=gt&f.username=a',
      '/api/entities/User/rows?sort=bio',
      `/api/entities/User/rows?sort=${encodeURIComponent('id"; drop table "User"; --')}`,
      '/api/entities/User/rows?dir=sideways',
      '/api/entities/User/rows?f.id=abc&op.id=eq',
      '/api/entities/User/rows?f.flags=1.5&op.flags=eq',
      '/api/entities/User/rows?f.flags=2147483648&op.flags=eq',
      '/api/entities/User/rows?f.flags=-2147483649&op.flags=lt',
      '/api/entities/Message/rows?f.attachmentCount=32768&op.attachmentCount=gt',
      '/api/entities/Message/rows?f.id=9223372036854775808&op.id=eq',
      '/api/entities/User/rows?f.createdAt=yesterday&op.createdAt=gt',
      '/api/entities/User/rows?f.premiumType=GOLD&op.premiumType=eq',
      '/api/entities/User/rows?limit=0',
      '/api/entities/User/rows?limit=201',
      '/api/entities/User/rows?after=garbage',
      '/api/entities/ServerMember/row?pk=1',
      '/api/entities/User/row?pk=abc',
      // Passes the date check, and PostgreSQL refuses it: still a 400, not a server error.
      `/api/entities/SystemMetrics/row?pk=${encodeURIComponent('2026-02-30 10:00:00+00')}&pk=1`,
    ];
    for (const path of refusals) {
      const answer = await get(path);
      expect(answer.status, path).toBe(400);
      expect(answer.json.error.code, path).toBe('VALIDATION_FAILED');
    }
    expect((await get('/api/entities/Nope/rows')).status).toBe(404);
    expect((await get('/api/entities/User/row?pk=1')).status).toBe(404);
    expect((await get('/api/entities/User/rows?limit=1')).json.rows).toHaveLength(1);
    expect((await get('/api/entities/User/rows?limit=200')).status).toBe(200);
    // Each type's limits themselves are accepted.
    for (const path of [
      '/api/entities/User/rows?f.flags=2147483647&op.flags=eq',
      '/api/entities/User/rows?f.flags=-2147483648&op.flags=gt',
      '/api/entities/Message/rows?f.attachmentCount=32767&op.attachmentCount=lt',
      '/api/entities/Message/rows?f.id=9223372036854775807&op.id=lt',
    ]) {
      expect((await get(path)).status, path).toBe(200);
    }
  });

  it('shows a row by its (composite) primary key, and relations link to the related row', async () => {
    const member = await get(`/api/entities/ServerMember/row?pk=${worldOf().server.id}&pk=${worldOf().alice.id}`);
    expect(member.json.row).toMatchObject({ serverId: worldOf().server.id, userId: worldOf().alice.id });
    const page = await get(`/entities/ServerMember/row?pk=${worldOf().server.id}&pk=${worldOf().alice.id}`);
    expect(page.body).toContain(`href="/entities/User/row?pk=${worldOf().alice.id}"`);
    expect(page.body).toContain(`href="/entities/Server/row?pk=${worldOf().server.id}"`);
    const message = await get(`/entities/Message?f.id=${worldOf().hello.id}&op.id=eq`);
    expect(message.body).toContain(`href="/entities/Channel/row?pk=${worldOf().textId}"`);
    const server = await get(`/entities/Server/row?pk=${worldOf().server.id}`);
    expect(server.body).toContain(`/entities/Channel?f.serverId=${worldOf().server.id}&amp;op.serverId=eq`);
  });
});
