import type { EntityManager } from '@mikro-orm/postgresql';
import { ValidationFailed } from '../../domain/errors';
import { isSnowflake } from '../../domain/snowflake';
import { readSql, type ReadSql } from '../message/read-access';

/**
 * The analytics read API. Every query reads the hourly relations ("MessageActivityHourly",
 * "VoiceActivityHourly") and the views over them: real-time continuous aggregates on TimescaleDB,
 * plain views on PostgreSQL, with the same names, columns and bucketing, so both paths answer alike
 * on the same data. Periods are rounded out to whole hours (whole days for userEngagement): a
 * bucket is counted when it starts at or after `since` rounded down, and before `until`.
 * Queries are raw SQL into typed rows (docs/architecture.md §13: hot reads skip hydration).
 */
export interface AnalyticsPeriod {
  since: Date;
  /** Defaults to now. */
  until?: Date;
}

export type ActivityBucket = 'hour' | 'day';

export interface ActivityPoint {
  bucket: Date;
  messages: number;
  characters: number;
  activeUsers: number;
}

export interface ChannelActivity {
  channelId: string;
  messages: number;
  characters: number;
  activeUsers: number;
}

export interface EngagementDay {
  day: Date;
  messages: number;
  characters: number;
  voiceMinutes: number;
  serversActive: number;
}

export interface VoiceUsage {
  minutes: number;
  sessions: number;
  byChannel: { channelId: string; minutes: number; sessions: number }[];
}

export interface ServerHour {
  hour: Date;
  messages: number;
  activeUsers: number;
  voiceMinutes: number;
}

export interface Dashboard {
  serverId: string;
  /** Start of the oldest hour counted: the current hour and the 23 before it. */
  since: Date;
  messages: number;
  activeUsers: number;
  voiceMinutes: number;
  hourly: ServerHour[];
  topChannels: ChannelActivity[];
}

const ORIGIN = `timestamptz '2000-01-01 00:00:00+00'`;
const HOUR = 3_600_000;

const num = (value: unknown): number => (value === null || value === undefined ? 0 : Number(value));

function idOf(value: unknown, field: string): string {
  if (!isSnowflake(value)) throw new ValidationFailed(field, 'must be a snowflake id');
  return value;
}

function periodOf(period: unknown): { since: Date; until: Date } {
  const p = (typeof period === 'object' && period !== null ? period : {}) as Partial<AnalyticsPeriod>;
  if (!(p.since instanceof Date) || Number.isNaN(p.since.getTime()))
    throw new ValidationFailed('since', 'must be a date');
  const until = p.until ?? new Date();
  if (!(until instanceof Date) || Number.isNaN(until.getTime())) throw new ValidationFailed('until', 'must be a date');
  if (until.getTime() < p.since.getTime()) throw new ValidationFailed('until', 'must not be before since');
  return { since: p.since, until };
}

function limitOf(limit: unknown, max = 100): number {
  if (!Number.isInteger(limit) || (limit as number) < 1 || (limit as number) > max)
    throw new ValidationFailed('limit', `must be an integer from 1 to ${max}`);
  return limit as number;
}

export class AnalyticsQueries {
  /** Reads go to a read replica when one is configured and `em` is not in a transaction. */
  private readonly sql: ReadSql;

  constructor(em: EntityManager) {
    this.sql = readSql(em);
  }

  /** Messages, characters and distinct senders of a server per hour or day. */
  async messageActivity(
    serverId: string,
    options: AnalyticsPeriod & { bucket?: ActivityBucket },
  ): Promise<ActivityPoint[]> {
    const id = idOf(serverId, 'serverId');
    const { since, until } = periodOf(options);
    const bucket = options.bucket ?? 'hour';
    if (bucket !== 'hour' && bucket !== 'day') throw new ValidationFailed('bucket', "must be 'hour' or 'day'");
    const rows = await this.sql<{ bucket: Date; messages: string; characters: string; activeUsers: string }>(
      `select date_bin('1 ${bucket}', "bucket", ${ORIGIN}) as "bucket", sum("messages") as "messages",
              sum("characters") as "characters", count(distinct "userId") as "activeUsers"
         from "MessageActivityHourly"
        where "serverId" = ? and "bucket" >= date_bin('1 ${bucket}', ?::timestamptz, ${ORIGIN}) and "bucket" < ?
        group by 1 order by 1`,
      [id, since, until],
    );
    return rows.map((r) => ({
      bucket: new Date(r.bucket),
      messages: num(r.messages),
      characters: num(r.characters),
      activeUsers: num(r.activeUsers),
    }));
  }

  /** A server's busiest channels in a period, by messages (ties by channel id). */
  async topChannels(
    serverId: string,
    period: AnalyticsPeriod,
    options: { limit?: number } = {},
  ): Promise<ChannelActivity[]> {
    const id = idOf(serverId, 'serverId');
    const { since, until } = periodOf(period);
    const limit = limitOf(options.limit ?? 10);
    const rows = await this.sql<{ channelId: string; messages: string; characters: string; activeUsers: string }>(
      `select "channelId"::text as "channelId", sum("messages") as "messages", sum("characters") as "characters",
              count(distinct "userId") as "activeUsers"
         from "MessageActivityHourly"
        where "serverId" = ? and "bucket" >= date_bin('1 hour', ?::timestamptz, ${ORIGIN}) and "bucket" < ?
        group by "channelId" order by "messages" desc, "channelId" limit ${limit}`,
      [id, since, until],
    );
    return rows.map((r) => ({
      channelId: r.channelId,
      messages: num(r.messages),
      characters: num(r.characters),
      activeUsers: num(r.activeUsers),
    }));
  }

  /** A user's days: messages, characters, voice minutes and how many servers they were active in. */
  async userEngagement(userId: string, period: AnalyticsPeriod): Promise<EngagementDay[]> {
    const id = idOf(userId, 'userId');
    const { since, until } = periodOf(period);
    const rows = await this.sql<{
      day: Date;
      messages: string;
      characters: string;
      voiceMinutes: string;
      serversActive: string;
    }>(
      `select "day", "messages", "characters", "voiceMinutes", "serversActive" from "UserEngagementDaily"
        where "userId" = ? and "day" >= date_bin('1 day', ?::timestamptz, ${ORIGIN}) and "day" < ? order by "day"`,
      [id, since, until],
    );
    return rows.map((r) => ({
      day: new Date(r.day),
      messages: num(r.messages),
      characters: num(r.characters),
      voiceMinutes: num(r.voiceMinutes),
      serversActive: num(r.serversActive),
    }));
  }

  /** Voice minutes of a server's sessions that ended in the period, in total and per channel. */
  async voiceMinutes(serverId: string, period: AnalyticsPeriod): Promise<VoiceUsage> {
    const id = idOf(serverId, 'serverId');
    const { since, until } = periodOf(period);
    const rows = await this.sql<{ channelId: string; seconds: string; sessions: string }>(
      `select "channelId"::text as "channelId", sum("voiceSeconds") as "seconds", sum("sessions") as "sessions"
         from "VoiceActivityHourly"
        where "serverId" = ? and "bucket" >= date_bin('1 hour', ?::timestamptz, ${ORIGIN}) and "bucket" < ?
        group by "channelId" order by "seconds" desc, "channelId"`,
      [id, since, until],
    );
    const minutes = (seconds: number) => Math.round((seconds / 60) * 100) / 100;
    const byChannel = rows.map((r) => ({
      channelId: r.channelId,
      minutes: minutes(num(r.seconds)),
      sessions: num(r.sessions),
    }));
    const total = rows.reduce((sum, r) => sum + num(r.seconds), 0);
    return { minutes: minutes(total), sessions: byChannel.reduce((sum, c) => sum + c.sessions, 0), byChannel };
  }

  /** Live numbers of the last 24 hours (the current hour and the 23 before it). */
  async dashboard(serverId: string): Promise<Dashboard> {
    const id = idOf(serverId, 'serverId');
    const [head] = await this.sql<{ since: Date; now: Date }>(
      `select date_bin('1 hour', now(), ${ORIGIN}) - interval '23 hours' as "since", now() as "now"`,
      [],
    );
    const since = new Date(head.since);
    const [totals] = await this.sql<{ messages: string; activeUsers: string; voiceMinutes: string }>(
      `select "messages", "activeUsers", "voiceMinutes" from "DashboardLast24h" where "serverId" = ?`,
      [id],
    );
    const hourly = await this.sql<{ hour: Date; messages: string; activeUsers: string; voiceMinutes: string }>(
      `select "bucket" as "hour", "messages", "activeUsers", "voiceMinutes" from "ServerActivityHourly"
        where "serverId" = ? and "bucket" >= ? order by "bucket"`,
      [id, since],
    );
    const topChannels = await this.topChannels(
      id,
      { since, until: new Date(new Date(head.now).getTime() + HOUR) },
      { limit: 5 },
    );
    return {
      serverId: id,
      since,
      messages: num(totals?.messages),
      activeUsers: num(totals?.activeUsers),
      voiceMinutes: num(totals?.voiceMinutes),
      hourly: hourly.map((r) => ({
        hour: new Date(r.hour),
        messages: num(r.messages),
        activeUsers: num(r.activeUsers),
        voiceMinutes: num(r.voiceMinutes),
      })),
      topChannels,
    };
  }
}

/** The analytics read API on `em` (a fork per request, as everywhere). */
export const analytics = (em: EntityManager) => new AnalyticsQueries(em);
