import type { EntityClass, EntityManager, RequiredEntityData } from '@mikro-orm/postgresql';
import { nextSnowflake } from '../../domain/snowflake';
import { MessageAnalytics } from '../../entities/analytics/MessageAnalytics';
import { ServerAnalytics } from '../../entities/analytics/ServerAnalytics';
import { SystemMetrics } from '../../entities/analytics/SystemMetrics';
import { VoiceAnalytics } from '../../entities/analytics/VoiceAnalytics';

export interface AnalyticsHistoryOptions {
  serverIds: string[];
  /** Text channels per server (messages go there). */
  channelIdsByServer: Record<string, string[]>;
  /** Voice channels per server; without them no voice history is made for that server. */
  voiceChannelIdsByServer?: Record<string, string[]>;
  userIdsByServer: Record<string, string[]>;
  /** Days of history ending at the current hour; 30 by default. */
  days?: number;
  seed?: number;
  /** The end of the history (default now). */
  now?: Date;
}

export interface AnalyticsHistoryCounts {
  messageRows: number;
  voiceRows: number;
  serverRows: number;
  systemRows: number;
}

const HOUR = 3_600_000;
const CHUNK = 1000;

/** mulberry32: small, fast and the same everywhere for a given seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Busier in the (UTC) evening, quiet at night. */
const diurnal = (hourOfDay: number) => 0.25 + 0.75 * Math.max(0, Math.sin(((hourOfDay - 6) / 24) * 2 * Math.PI));

async function insertChunked<T extends object>(
  em: EntityManager,
  entity: EntityClass<T>,
  rows: RequiredEntityData<T>[],
): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK) await em.insertMany(entity, rows.slice(i, i + CHUNK));
}

/**
 * Deterministic analytics history for seeded servers: per hour, channel and active user one
 * MessageAnalytics row carrying that hour's count (queries sum "messageCount", so rolled-up history
 * and live per-message rows read alike); voice sessions; hourly ServerAnalytics snapshots; and
 * hourly SystemMetrics for the 14 days SystemMetrics keeps. Bulk inserts in chunks of 1,000.
 * Counts are the same for a given seed; timestamps end at `now`. On TimescaleDB, run
 * `refreshAnalytics(em)` afterwards (outside a transaction) so the continuous aggregates include it.
 */
export async function seedAnalyticsHistory(
  em: EntityManager,
  options: AnalyticsHistoryOptions,
): Promise<AnalyticsHistoryCounts> {
  const rand = random(options.seed ?? 42);
  const days = options.days ?? 30;
  const end = Math.floor((options.now ?? new Date()).getTime() / HOUR) * HOUR;
  const hours = days * 24;
  const messages: RequiredEntityData<MessageAnalytics>[] = [];
  const voice: RequiredEntityData<VoiceAnalytics>[] = [];
  const snapshots: RequiredEntityData<ServerAnalytics>[] = [];
  for (const serverId of options.serverIds) {
    const channels = options.channelIdsByServer[serverId] ?? [];
    const voiceChannels = options.voiceChannelIdsByServer?.[serverId] ?? [];
    const users = options.userIdsByServer[serverId] ?? [];
    if (users.length === 0) continue;
    for (let h = hours; h >= 1; h--) {
      const hourStart = end - h * HOUR;
      const load = diurnal(new Date(hourStart).getUTCHours());
      let hourMessages = 0;
      let voiceSeconds = 0;
      for (const channelId of channels) {
        for (const userId of users) {
          if (rand() > 0.35 * load) continue;
          const count = 1 + Math.floor(rand() * 12 * load);
          const characterCount = count * (8 + Math.floor(rand() * 60));
          hourMessages += count;
          messages.push({
            id: nextSnowflake(),
            timestamp: new Date(hourStart + Math.floor(rand() * HOUR)),
            serverId,
            channelId,
            userId,
            messageCount: count,
            characterCount,
          });
        }
      }
      for (const channelId of voiceChannels) {
        for (const userId of users) {
          if (rand() > 0.08 * load) continue;
          const sessionDuration = 60 + Math.floor(rand() * 3000);
          voiceSeconds += sessionDuration;
          voice.push({
            id: nextSnowflake(),
            timestamp: new Date(hourStart + Math.floor(rand() * HOUR)),
            serverId,
            channelId,
            userId,
            sessionDuration,
          });
        }
      }
      snapshots.push({
        timestamp: new Date(hourStart + HOUR),
        serverId,
        memberCount: users.length,
        onlineCount: Math.round(users.length * load * rand()),
        messageCount: hourMessages,
        voiceMinutes: Math.floor(voiceSeconds / 60),
      });
    }
  }
  const system: RequiredEntityData<SystemMetrics>[] = [];
  for (let h = Math.min(hours, 14 * 24); h >= 1; h--) {
    const load = diurnal(new Date(end - h * HOUR).getUTCHours());
    system.push({
      id: nextSnowflake(),
      timestamp: new Date(end - h * HOUR),
      databaseSizeBytes: String(50_000_000 + (hours - h) * 20_000),
      connections: 5 + Math.round(40 * load * rand()),
      cacheHitRatio: 0.95 + 0.049 * rand(),
      transactionsPerSecond: Math.round(200 * load * (0.5 + rand()) * 10) / 10,
    });
  }
  await insertChunked(em, MessageAnalytics, messages);
  await insertChunked(em, VoiceAnalytics, voice);
  await insertChunked(em, ServerAnalytics, snapshots);
  await insertChunked(em, SystemMetrics, system);
  return {
    messageRows: messages.length,
    voiceRows: voice.length,
    serverRows: snapshots.length,
    systemRows: system.length,
  };
}
