import { Check, Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * One row per closed voice session, written in the transaction that closes it ("timestamp" is the
 * session's end). `id` is the VoiceSession's id, so a session is counted once. No foreign keys, as
 * for MessageAnalytics; the primary key contains "timestamp" for the hypertable.
 */
@Entity()
@Index({ name: 'VoiceAnalytics_serverId_timestamp_index', properties: ['serverId', 'timestamp'] })
@Index({ name: 'VoiceAnalytics_userId_timestamp_index', properties: ['userId', 'timestamp'] })
@Check({ name: 'voice_analytics_duration_check', expression: '"sessionDuration" >= 0' })
export class VoiceAnalytics {
  @PrimaryKey({ columnType: 'timestamptz' })
  timestamp: Date;

  @PrimaryKey({ type: 'bigint', autoincrement: false })
  id: string;

  @Property({ type: 'bigint' })
  serverId: string;

  @Property({ type: 'bigint' })
  channelId: string;

  @Property({ type: 'bigint' })
  userId: string;

  /** Whole seconds. */
  @Property({ type: 'integer' })
  sessionDuration: number;

  constructor(row: {
    id: string;
    serverId: string;
    channelId: string;
    userId: string;
    sessionDuration: number;
    timestamp: Date;
  }) {
    this.id = row.id;
    this.serverId = row.serverId;
    this.channelId = row.channelId;
    this.userId = row.userId;
    this.sessionDuration = row.sessionDuration;
    this.timestamp = row.timestamp;
  }
}
