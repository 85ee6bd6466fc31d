import { Check, Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';
import { nextSnowflake } from '../../domain/snowflake';

/**
 * One row per message sent (messageCount 1), or per channel, user and hour in generated history
 * (messageCount > 1): every query sums "messageCount", so both shapes read alike.
 * Plain id columns, no foreign keys: a hypertable drops whole chunks by age, and history outlives
 * deleted channels and servers. The primary key contains "timestamp" because a hypertable's unique
 * indexes must contain its time column; "timestamp" leads it, so retention by age uses it.
 */
@Entity()
@Index({ name: 'MessageAnalytics_serverId_timestamp_index', properties: ['serverId', 'timestamp'] })
@Index({ name: 'MessageAnalytics_userId_timestamp_index', properties: ['userId', 'timestamp'] })
@Check({ name: 'message_analytics_counts_check', expression: '"messageCount" >= 0 and "characterCount" >= 0' })
export class MessageAnalytics {
  @PrimaryKey({ columnType: 'timestamptz' })
  timestamp: Date;

  @PrimaryKey({ type: 'bigint', autoincrement: false })
  id: string = nextSnowflake();

  /** Null for direct and group messages. */
  @Property({ type: 'bigint', nullable: true })
  serverId: string | null;

  @Property({ type: 'bigint' })
  channelId: string;

  @Property({ type: 'bigint' })
  userId: string;

  @Property({ type: 'integer' })
  messageCount: number;

  @Property({ type: 'integer' })
  characterCount: number;

  constructor(row: {
    serverId: string | null;
    channelId: string;
    userId: string;
    messageCount?: number;
    characterCount: number;
    timestamp: Date;
  }) {
    this.serverId = row.serverId;
    this.channelId = row.channelId;
    this.userId = row.userId;
    this.messageCount = row.messageCount ?? 1;
    this.characterCount = row.characterCount;
    this.timestamp = row.timestamp;
  }
}
