import { beforeAll, describe, expect, it } from 'vitest';
import { ValidationFailed } from '../src/domain/errors';
import { nextSnowflake } from '../src/domain/snowflake';
import { analytics } from '../src/entities/analytics/AnalyticsQueries';
import { analyticsLayerState, refreshAnalytics } from '../src/entities/analytics/maintenance';
import { useTestDatabase } from './support/db';
import { timescaleOnServer } from './support/timescale';

/**
 * The query API against results computed here from the raw rows. The same file runs on both paths
 * (plain PostgreSQL in CI, TimescaleDB with DATABASE_URL on a server that has it): each path must
 * equal the expectation, so both paths give the same results on the same data.
 */
const server = timescaleOnServer();
const db = useTestDatabase();

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const floorTo = (t: number, unit: number) => Math.floor(t / unit) * unit;

interface MessageRow {
  ts: number;
  serverId: string | null;
  channelId: string;
  userId: string;
  count: number;
  chars: number;
}
interface VoiceRow {
  ts: number;
  serverId: string;
  channelId: string;
  userId: string;
  seconds: number;
}

const S1 = nextSnowflake();
const S2 = nextSnowflake();
const channels = { [S1]: [nextSnowflake(), nextSnowflake(), nextSnowflake()], [S2]: [nextSnowflake()] } as Record<
  string,
  string[]
>;
const voiceChannels = { [S1]: [nextSnowflake()], [S2]: [nextSnowflake()] } as Record<string, string[]>;
const DM = nextSnowflake();
const users = [nextSnowflake(), nextSnowflake(), nextSnowflake(), nextSnowflake()];
const messages: MessageRow[] = [];
const voice: VoiceRow[] = [];
let now = 0;

/** Deterministic pseudo-random rows over the last 5 days, with rows on bucket edges. */
function generate(seed: number, from: number, to: number) {
  let x = seed;
  const rand = () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const out: { m: MessageRow[]; v: VoiceRow[] } = { m: [], v: [] };
  for (let t = from; t < to; t += HOUR) {
    for (const serverId of [S1, S2, null]) {
      if (rand() < 0.4) continue;
      const userId = users[Math.floor(rand() * users.length)];
      const channelId = serverId === null ? DM : channels[serverId][Math.floor(rand() * channels[serverId].length)];
      const offset = rand() < 0.2 ? 0 : rand() < 0.2 ? HOUR - 1 : Math.floor(rand() * HOUR);
      out.m.push({
        ts: t + offset,
        serverId,
        channelId,
        userId,
        count: 1 + Math.floor(rand() * 3),
        chars: 1 + Math.floor(rand() * 200),
      });
      if (serverId !== null && rand() < 0.3) {
        out.v.push({
          ts: t + Math.floor(rand() * HOUR),
          serverId,
          channelId: voiceChannels[serverId][0],
          userId,
          seconds: Math.floor(rand() * 4000),
        });
      }
    }
  }
  return out;
}

async function insert(m: MessageRow[], v: VoiceRow[]) {
  for (const r of m) {
    await db().sql(
      `insert into "MessageAnalytics" ("timestamp", id, "serverId", "channelId", "userId", "messageCount",
        "characterCount") values ($1, $2, $3, $4, $5, $6, $7)`,
      [new Date(r.ts), nextSnowflake(), r.serverId, r.channelId, r.userId, r.count, r.chars],
    );
  }
  for (const r of v) {
    await db().sql(
      `insert into "VoiceAnalytics" ("timestamp", id, "serverId", "channelId", "userId", "sessionDuration") values ($1,
        $2, $3, $4, $5, $6)`,
      [new Date(r.ts), nextSnowflake(), r.serverId, r.channelId, r.userId, r.seconds],
    );
  }
  messages.push(...m);
  voice.push(...v);
}

const inPeriod = (ts: number, since: number, until: number, unit = HOUR) =>
  floorTo(ts, HOUR) >= floorTo(since, unit) && floorTo(ts, HOUR) < until;
const minutes = (seconds: number) => Math.round((seconds / 60) * 100) / 100;

function expectedActivity(serverId: string, since: number, until: number, unit: number) {
  const buckets = new Map<number, { messages: number; characters: number; users: Set<string> }>();
  for (const r of messages.filter((r) => r.serverId === serverId && inPeriod(r.ts, since, until, unit))) {
    const b = buckets.get(floorTo(r.ts, unit)) ?? { messages: 0, characters: 0, users: new Set() };
    b.messages += r.count;
    b.characters += r.chars;
    b.users.add(r.userId);
    buckets.set(floorTo(r.ts, unit), b);
  }
  return [...buckets.entries()]
    .sort(([a], [b]) => a - b)
    .map(([t, b]) => ({
      bucket: new Date(t),
      messages: b.messages,
      characters: b.characters,
      activeUsers: b.users.size,
    }));
}

function expectedTopChannels(serverId: string, since: number, until: number, limit = 10) {
  const byChannel = new Map<string, { messages: number; characters: number; users: Set<string> }>();
  for (const r of messages.filter((r) => r.serverId === serverId && inPeriod(r.ts, since, until))) {
    const c = byChannel.get(r.channelId) ?? { messages: 0, characters: 0, users: new Set() };
    c.messages += r.count;
    c.characters += r.chars;
    c.users.add(r.userId);
    byChannel.set(r.channelId, c);
  }
  return [...byChannel.entries()]
    .map(([channelId, c]) => ({ channelId, messages: c.messages, characters: c.characters, activeUsers: c.users.size }))
    .sort((a, b) => b.messages - a.messages || (BigInt(a.channelId) < BigInt(b.channelId) ? -1 : 1))
    .slice(0, limit);
}

function expectedEngagement(userId: string, since: number, until: number) {
  const days = new Map<number, { messages: number; characters: number; seconds: number; servers: Set<string> }>();
  const day = (ts: number) =>
    days.get(floorTo(ts, DAY)) ?? { messages: 0, characters: 0, seconds: 0, servers: new Set<string>() };
  const keep = (ts: number) => floorTo(ts, DAY) >= floorTo(since, DAY) && floorTo(ts, DAY) < until;
  for (const r of messages.filter((r) => r.userId === userId && keep(r.ts))) {
    const d = day(r.ts);
    d.messages += r.count;
    d.characters += r.chars;
    if (r.serverId) d.servers.add(r.serverId);
    days.set(floorTo(r.ts, DAY), d);
  }
  for (const r of voice.filter((r) => r.userId === userId && keep(r.ts))) {
    const d = day(r.ts);
    d.seconds += r.seconds;
    d.servers.add(r.serverId);
    days.set(floorTo(r.ts, DAY), d);
  }
  return [...days.entries()]
    .sort(([a], [b]) => a - b)
    .map(([t, d]) => ({
      day: new Date(t),
      messages: d.messages,
      characters: d.characters,
      voiceMinutes: minutes(d.seconds),
      serversActive: d.servers.size,
    }));
}

function expectedVoice(serverId: string, since: number, until: number) {
  const rows = voice.filter((r) => r.serverId === serverId && inPeriod(r.ts, since, until));
  const byChannel = new Map<string, { seconds: number; sessions: number }>();
  for (const r of rows) {
    const c = byChannel.get(r.channelId) ?? { seconds: 0, sessions: 0 };
    c.seconds += r.seconds;
    c.sessions += 1;
    byChannel.set(r.channelId, c);
  }
  const list = [...byChannel.entries()].sort(
    ([a, x], [b, y]) => y.seconds - x.seconds || (BigInt(a) < BigInt(b) ? -1 : 1),
  );
  return {
    minutes: minutes(rows.reduce((s, r) => s + r.seconds, 0)),
    sessions: rows.length,
    byChannel: list.map(([channelId, c]) => ({ channelId, minutes: minutes(c.seconds), sessions: c.sessions })),
  };
}

async function expectAllQueriesMatch() {
  const q = analytics(db().fork());
  const since = now - 4 * DAY - 7 * 60_000;
  const until = now + HOUR;
  const period = { since: new Date(since), until: new Date(until) };
  // Not vacuous: the data spans days, servers, channels and users.
  expect(expectedActivity(S1, since, until, HOUR).length).toBeGreaterThan(40);
  expect(expectedVoice(S1, since, until).sessions).toBeGreaterThan(5);
  for (const serverId of [S1, S2]) {
    expect(await q.messageActivity(serverId, { ...period, bucket: 'hour' })).toEqual(
      expectedActivity(serverId, since, until, HOUR),
    );
    expect(await q.messageActivity(serverId, { ...period, bucket: 'day' })).toEqual(
      expectedActivity(serverId, since, until, DAY),
    );
    expect(await q.topChannels(serverId, period)).toEqual(expectedTopChannels(serverId, since, until));
    expect(await q.voiceMinutes(serverId, period)).toEqual(expectedVoice(serverId, since, until));
  }
  expect(await q.topChannels(S1, period, { limit: 2 })).toEqual(expectedTopChannels(S1, since, until, 2));
  for (const userId of users)
    expect(await q.userEngagement(userId, { since: new Date(since), until: new Date(until) })).toEqual(
      expectedEngagement(userId, since, until),
    );

  const dashboardSince = floorTo(now, HOUR) - 23 * HOUR;
  const board = await q.dashboard(S1);
  const lastDay = expectedActivity(S1, dashboardSince, until, HOUR);
  const voiceLastDay = voice.filter((r) => r.serverId === S1 && floorTo(r.ts, HOUR) >= dashboardSince);
  const activeUsers = new Set([
    ...messages.filter((r) => r.serverId === S1 && floorTo(r.ts, HOUR) >= dashboardSince).map((r) => r.userId),
    ...voiceLastDay.map((r) => r.userId),
  ]);
  expect(board).toMatchObject({
    serverId: S1,
    since: new Date(dashboardSince),
    messages: lastDay.reduce((s, b) => s + b.messages, 0),
    activeUsers: activeUsers.size,
    voiceMinutes: minutes(voiceLastDay.reduce((s, r) => s + r.seconds, 0)),
    topChannels: expectedTopChannels(S1, dashboardSince, until, 5),
  });
  expect(board.hourly.reduce((s, h) => s + h.messages, 0)).toBe(board.messages);
}

beforeAll(async () => {
  now = Date.now();
  const { m, v } = generate(7, floorTo(now, HOUR) - 5 * DAY, floorTo(now, HOUR) - HOUR);
  await insert(m, v);
});

describe(`analytics queries on ${server.available ? `TimescaleDB ${server.version}` : 'plain PostgreSQL'}`, () => {
  it('the layer took the path the server allows', async () => {
    const state = await analyticsLayerState(db().fork());
    expect(state.path).toBe(server.available ? 'timescaledb' : 'postgresql');
    expect(state.views).toEqual([
      'DashboardLast24h',
      'MessageActivityHourly',
      'ServerActivityHourly',
      'UserEngagementDaily',
      'VoiceActivityHourly',
    ]);
  });

  it('every query equals the result computed from the raw rows, before any refresh (real-time aggregates)', async () => {
    await expectAllQueriesMatch();
  });

  it('and after the aggregates are materialized', async () => {
    await refreshAnalytics(db().fork());
    await expectAllQueriesMatch();
  });

  it('rows of the current hour show at once; backfilled history after refreshAnalytics', async () => {
    const current = generate(11, floorTo(now, HOUR), floorTo(now, HOUR) + 1).m.map((r) => ({
      ...r,
      ts: Math.min(r.ts, Date.now() - 1000),
    }));
    const backfill = generate(13, floorTo(now, HOUR) - 3 * DAY, floorTo(now, HOUR) - 3 * DAY + 4 * HOUR);
    expect(current.length).toBeGreaterThan(0);
    await insert(current, []);
    const q = analytics(db().fork());
    const hour = await q.messageActivity(S1, { since: new Date(floorTo(now, HOUR)), until: new Date(now + HOUR) });
    expect(hour).toEqual(expectedActivity(S1, floorTo(now, HOUR), now + HOUR, HOUR));
    await insert(backfill.m, backfill.v);
    await refreshAnalytics(db().fork());
    await expectAllQueriesMatch();
  });

  it('the documented "message analytics for the last 24 hours" query runs verbatim', async () => {
    const documented = `SELECT date_trunc('hour', timestamp) as hour, SUM("messageCount") as messages,
       COUNT(DISTINCT "userId") as unique_users
FROM "MessageAnalytics" WHERE timestamp >= NOW() - INTERVAL '24 hours' AND "serverId" = $1
GROUP BY hour ORDER BY hour;`;
    await db().sql(`set timezone = 'UTC'`);
    const rows = await db().sql<{ hour: Date; messages: string; unique_users: string }>(documented, [S1]);
    const [{ cutoff }] = await db().sql<{ cutoff: Date }>(`select now() - interval '24 hours' as cutoff`);
    const recent = messages.filter((r) => r.serverId === S1 && r.ts >= cutoff.getTime());
    const hours = [...new Set(recent.map((r) => floorTo(r.ts, HOUR)))].sort((a, b) => a - b);
    expect(
      rows.map((r) => ({ hour: r.hour, messages: Number(r.messages), unique_users: Number(r.unique_users) })),
    ).toEqual(
      hours.map((t) => {
        const inHour = recent.filter((r) => floorTo(r.ts, HOUR) === t);
        return {
          hour: new Date(t),
          messages: inHour.reduce((s, r) => s + r.count, 0),
          unique_users: new Set(inHour.map((r) => r.userId)).size,
        };
      }),
    );
  });

  it('refuses bad arguments with ValidationFailed', async () => {
    const q = analytics(db().fork());
    const since = new Date(now - DAY);
    await expect(q.messageActivity('nope', { since })).rejects.toBeInstanceOf(ValidationFailed);
    await expect(q.messageActivity(S1, { since, bucket: 'week' as never })).rejects.toBeInstanceOf(ValidationFailed);
    await expect(q.topChannels(S1, { since: new Date('x') })).rejects.toBeInstanceOf(ValidationFailed);
    await expect(q.topChannels(S1, { since, until: new Date(now - 2 * DAY) })).rejects.toBeInstanceOf(ValidationFailed);
    await expect(q.topChannels(S1, { since }, { limit: 0 })).rejects.toBeInstanceOf(ValidationFailed);
    await expect(q.topChannels(S1, { since }, { limit: 101 })).rejects.toBeInstanceOf(ValidationFailed);
    expect(await q.topChannels(S1, { since }, { limit: 100 })).toEqual(
      expectedTopChannels(S1, since.getTime(), Date.now() + 1, 100),
    );
    await expect(q.userEngagement('1.5', { since })).rejects.toBeInstanceOf(ValidationFailed);
    await expect(q.voiceMinutes(S1, null as never)).rejects.toBeInstanceOf(ValidationFailed);
    await expect(q.dashboard('')).rejects.toBeInstanceOf(ValidationFailed);
  });
});
