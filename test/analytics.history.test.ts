import { describe, expect, it } from 'vitest';
import { nextSnowflake } from '../src/domain/snowflake';
import { analytics } from '../src/entities/analytics/AnalyticsQueries';
import { renderHourlyChart } from '../src/entities/analytics/chart';
import { refreshAnalytics } from '../src/entities/analytics/maintenance';
import { seedAnalyticsHistory } from '../src/seeders/factories/AnalyticsFactory';
import { useTestDatabase } from './support/db';

const db = useTestDatabase();
const HOUR = 3_600_000;

function world() {
  const serverId = nextSnowflake();
  return {
    serverId,
    channels: [nextSnowflake(), nextSnowflake()],
    voice: [nextSnowflake()],
    users: [nextSnowflake(), nextSnowflake(), nextSnowflake()],
  };
}

describe('analytics history factory and the hourly chart', () => {
  it('the same seed gives the same history; 30 days ending now; every table filled', async () => {
    const now = new Date(Math.floor(Date.now() / HOUR) * HOUR + 17 * 60_000);
    const shape = async (w: ReturnType<typeof world>) =>
      db().sql(
        `select "timestamp", array_position($2::bigint[], "channelId") as channel, array_position($3::bigint[],
          "userId") as "user", "messageCount", "characterCount"
           from "MessageAnalytics" where "serverId" = $1 order by 1, 2, 3`,
        [w.serverId, w.channels, w.users],
      );
    const a = world();
    const b = world();
    const seed = (w: ReturnType<typeof world>) =>
      seedAnalyticsHistory(db().fork(), {
        serverIds: [w.serverId],
        channelIdsByServer: { [w.serverId]: w.channels },
        voiceChannelIdsByServer: { [w.serverId]: w.voice },
        userIdsByServer: { [w.serverId]: w.users },
        days: 30,
        seed: 7,
        now,
      });
    const countsA = await seed(a);
    const countsB = await seed(b);
    expect(countsB).toEqual(countsA);
    expect(countsA.messageRows).toBeGreaterThan(500);
    expect(countsA.voiceRows).toBeGreaterThan(10);
    expect(countsA.serverRows).toBe(30 * 24);
    expect(countsA.systemRows).toBe(14 * 24);
    expect(await shape(b)).toEqual(await shape(a));
    const [range] = await db().sql<{ min: Date; max: Date }>(
      `select min("timestamp"), max("timestamp") from "MessageAnalytics" where "serverId" = $1`,
      [a.serverId],
    );
    expect(range.min.getTime()).toBeGreaterThanOrEqual(now.getTime() - 30 * 24 * HOUR - HOUR);
    expect(range.max.getTime()).toBeLessThan(now.getTime());
  });

  it('renders the hourly activity of a seeded server as a terminal chart', async () => {
    const w = world();
    await seedAnalyticsHistory(db().fork(), {
      serverIds: [w.serverId],
      channelIdsByServer: { [w.serverId]: w.channels },
      userIdsByServer: { [w.serverId]: w.users },
      days: 2,
      seed: 3,
    });
    await refreshAnalytics(db().fork());
    const hourly = await analytics(db().fork()).messageActivity(w.serverId, {
      since: new Date(Date.now() - 24 * HOUR),
      bucket: 'hour',
    });
    const chart = renderHourlyChart(hourly, { width: 30, title: 'messages per hour (UTC)' });
    const lines = chart.split('\n');
    expect(lines[0]).toBe('messages per hour (UTC)');
    const bars = lines.slice(1);
    expect(bars.length).toBe(Math.round((hourly.at(-1)!.bucket.getTime() - hourly[0].bucket.getTime()) / HOUR) + 1);
    const max = Math.max(...hourly.map((h) => h.messages));
    const top = bars.find((l) => l.endsWith(` ${max}`))!;
    expect(top).toContain('█'.repeat(30));
    expect(bars.every((l) => /^\d\d-\d\d \d\d:00 │/.test(l))).toBe(true);
  });

  it('renderHourlyChart shows empty hours and says when there is nothing', () => {
    const t = Date.UTC(2026, 10, 26, 10);
    const chart = renderHourlyChart(
      [
        { hour: new Date(t), messages: 4 },
        { hour: new Date(t + 2 * HOUR), messages: 2 },
      ],
      { width: 4 },
    );
    expect(chart.split('\n')).toEqual(['11-26 10:00 │████  4', '11-26 11:00 │      0', '11-26 12:00 │██    2']);
    expect(renderHourlyChart([])).toBe('(no activity)');
  });
});
