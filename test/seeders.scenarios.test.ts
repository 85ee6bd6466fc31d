import { describe, expect, it } from 'vitest';
import { checkInvariants } from '../src/db/invariants';
import { SCENARIOS } from '../src/seeders/world/spec';
import { SeedRefused, seedScenario as runSeed } from '../src/seeders/world/run';
import { createTestDatabase, useTestDatabase, type TestDatabase } from './support/db';
import { seedScenario } from './support/scenarios';

const db = useTestDatabase();

/** Every row of the world's content, with snowflakes (in columns and in text) replaced by their rank. */
async function content(target: TestDatabase): Promise<Record<string, string[]>> {
  const idTables = [
    'User',
    'Server',
    'Role',
    'Channel',
    'Message',
    'MessageAttachment',
    'MessageEmbed',
    'VoiceSession',
  ];
  const ids = await target.sql<{ id: string }>(
    idTables.map((t) => `select id::text from "${t}"`).join(' union ') + ' order by 1',
  );
  const rank = new Map(ids.map((r, i) => [r.id, `#${i}`]));
  const mapped = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(mapped);
    if (typeof v === 'string') return rank.get(v) ?? v.replace(/\d{15,20}/g, (d) => rank.get(d) ?? d);
    return v;
  };
  const tables = [
    'User',
    'UserPresence',
    'Relationship',
    'Server',
    'Role',
    'ServerMember',
    'ServerMemberRole',
    'Channel',
    'PermissionOverwrite',
    'Invite',
    'ChannelRecipient',
    'VoiceState',
    'VoiceSession',
    'Message',
    'MessageAttachment',
    'MessageEmbed',
    'Reaction',
    'ThreadMember',
    'ReadState',
    'MessageAnalytics',
    'VoiceAnalytics',
    'ServerAnalytics',
  ];
  const out: Record<string, string[]> = {};
  for (const table of tables) {
    // Content columns: everything but times (relative to when the seed ran) and analytics' own ids.
    const columns = await target.sql<{ name: string }>(
      `select column_name as name from information_schema.columns where table_name = $1
        and data_type not like 'timestamp%'
         and not (column_name = 'id' and $1 like '%Analytics') and is_generated = 'NEVER' order by ordinal_position`,
      [table],
    );
    const rows = await target.sql(
      `select ${columns.map((c) => `"${c.name}"::text as "${c.name}"`).join(', ')} from "${table}"`,
    );
    out[table] = rows.map((row) => JSON.stringify(columns.map((c) => mapped(row[c.name])))).sort();
  }
  return out;
}

async function indexState(): Promise<{ search: boolean; autovacuumOff: boolean }> {
  const [row] = await db().sql<{ search: boolean; autovacuumOff: boolean }>(
    `select to_regclass('"Message_searchVector_index"') is not null as search,
            coalesce((select 'autovacuum_enabled=false' = any(reloptions) from pg_class where relname = 'Message'),
              false) as "autovacuumOff"`,
  );
  return row;
}

describe('scenarios', () => {
  it('small: about 20 users and 2 servers, every invariant holds, and the helpers hand out real actors', async () => {
    const s = await seedScenario(db());
    expect(s.report.rows.User).toBe(SCENARIOS.small.users);
    expect(s.report.rows.Server).toBe(2);
    expect(s.report.rows.Message).toBeGreaterThanOrEqual(SCENARIOS.small.messages);
    for (const table of [
      'Reaction',
      'MessageAttachment',
      'ThreadMember',
      'ChannelRecipient',
      'VoiceState',
      'VoiceSession',
      'MessageAnalytics',
      'Relationship',
    ]) {
      expect(s.report.rows[table], table).toBeGreaterThan(0);
    }
    expect(await checkInvariants(db().fork())).toEqual([]);

    const [server] = await db().sql<{ ownerId: string }>(`select "ownerId"::text from "Server" where id = $1`, [
      s.server.id,
    ]);
    expect(server.ownerId).toBe(s.owner);
    const roleOf = async (userId: string) =>
      (
        await db().sql<{ name: string }>(
          `select r.name from "ServerMemberRole" mr join "Role" r on r.id = mr."roleId" where mr."serverId" = $1
            and mr."userId" = $2`,
          [s.server.id, userId],
        )
      ).map((r) => r.name);
    expect(await roleOf(s.moderator)).toContain('Moderator');
    expect(await roleOf(s.admin)).toContain('Admin');
    expect(await roleOf(s.member)).not.toContain('Moderator');
    expect(
      await db().sql(`select 1 from "ServerMember" where "serverId" = $1 and "userId" = $2`, [s.server.id, s.outsider]),
    ).toEqual([]);
    const [a, b] = s.blocked;
    expect(
      await db().sql(
        `select 1 from "Relationship" where "userAId" = $1 and "userBId" = $2 and ("aBlocksB" or "bBlocksA")`,
        [a, b],
      ),
    ).toHaveLength(1);
    expect(s.fullVoice.userLimit).toBeGreaterThan(0);
    expect(s.fullVoice.userIds).toHaveLength(s.fullVoice.userLimit);
    const [{ n }] = await db().sql<{ n: string }>(`select count(*) as n from "VoiceState" where "channelId" = $1`, [
      s.fullVoice.channelId,
    ]);
    expect(Number(n)).toBe(s.fullVoice.userLimit);
    // Presence is spread over the statuses, and the activity law makes a few channels busy.
    const statuses = await db().sql<{ status: string }>(`select distinct status from "UserPresence"`);
    expect(statuses.length).toBeGreaterThanOrEqual(3);
    const [busy] = await db().sql<{ share: number }>(
      `select max(c)::float / sum(c) as share from (select count(*) c from "Message" where "serverId" is not null
        group by "channelId") x`,
    );
    expect(busy.share).toBeGreaterThan(0.15);
  }, 60_000);

  it('the same seed gives the same content (ids mapped by order); another seed does not', async () => {
    const first = await content(db());
    const again = await createTestDatabase();
    const other = await createTestDatabase();
    try {
      await runSeed(again.fork(), { scenario: 'small', seed: 42, log: null });
      await runSeed(other.fork(), { scenario: 'small', seed: 7, log: null });
      const second = await content(again);
      for (const table of Object.keys(first)) expect(second[table], table).toEqual(first[table]);
      expect((await content(other)).Message).not.toEqual(first.Message);
    } finally {
      await again.close();
      await other.close();
    }
  }, 90_000);

  it('refuses a database that holds a world and writes nothing; --reset replaces it with the same world', async () => {
    const before = await content(db());
    await expect(runSeed(db().fork(), { scenario: 'small', seed: 42, log: null })).rejects.toThrow(SeedRefused);
    expect(await content(db())).toEqual(before);
    await runSeed(db().fork(), { scenario: 'small', seed: 42, reset: true, log: null });
    expect(await content(db())).toEqual(before);
    expect(await checkInvariants(db().fork())).toEqual([]);
  }, 60_000);

  it('an interrupted run keeps whole phases, is refused until resumed, and resumes to the world an uninterrupted run makes', async () => {
    // In bulk mode, as the large scenario loads: indexes and autovacuum off during the message load.
    const chunked = { ...SCENARIOS.small, chunk: 100, bulkMode: true };
    await runSeed(db().fork(), { scenario: chunked, seed: 42, reset: true, log: null });
    const expected = await content(db());
    const controller = new AbortController();
    await expect(
      runSeed(db().fork(), {
        scenario: chunked,
        seed: 42,
        reset: true,
        log: null,
        signal: controller.signal,
        onPhase: (name) => name === 'messages:1' && controller.abort(),
      }),
    ).rejects.toThrow(/interrupted before messages:2/);
    const [{ n }] = await db().sql<{ n: string }>(`select count(*) as n from "Message"`);
    expect(Number(n)).toBe(200);
    expect(await indexState()).toEqual({ search: false, autovacuumOff: true });
    await expect(runSeed(db().fork(), { scenario: chunked, seed: 42, log: null })).rejects.toThrow(/--resume/);
    await expect(runSeed(db().fork(), { scenario: chunked, seed: 7, resume: true, log: null })).rejects.toThrow(
      SeedRefused,
    );
    expect(Number((await db().sql<{ n: string }>(`select count(*) as n from "Message"`))[0].n)).toBe(200);
    const resumed = await runSeed(db().fork(), { scenario: chunked, seed: 42, resume: true, log: null });
    expect(resumed.resumed).toBe(true);
    expect(await checkInvariants(db().fork())).toEqual([]);
    const after = await content(db());
    for (const table of Object.keys(expected)) expect(after[table], table).toEqual(expected[table]);
    expect(await db().sql(`select to_regclass('cryb_seed_run') as t`)).toEqual([{ t: null }]);
    expect(await indexState()).toEqual({ search: true, autovacuumOff: false });
  }, 90_000);

  it('--reset after an interrupted bulk-mode run puts the indexes and autovacuum back first', async () => {
    const chunked = { ...SCENARIOS.small, chunk: 100, bulkMode: true };
    const controller = new AbortController();
    await expect(
      runSeed(db().fork(), {
        scenario: chunked,
        seed: 42,
        reset: true,
        log: null,
        signal: controller.signal,
        onPhase: (name) => name === 'messages:0' && controller.abort(),
      }),
    ).rejects.toThrow(SeedRefused);
    expect(await indexState()).toEqual({ search: false, autovacuumOff: true });
    await runSeed(db().fork(), { scenario: 'small', seed: 42, reset: true, log: null });
    expect(await indexState()).toEqual({ search: true, autovacuumOff: false });
    expect(await checkInvariants(db().fork())).toEqual([]);
  }, 90_000);
});
