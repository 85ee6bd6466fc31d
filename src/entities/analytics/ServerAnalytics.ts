import { Check, Entity, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * An hourly snapshot of a server, taken by `cryb_snapshot_server_analytics()` (a TimescaleDB job
 * where the extension exists, a scheduler calling `snapshotServerAnalytics` elsewhere). One row per
 * server and hour: a second snapshot in the same hour replaces the first.
 */
@Entity()
@Check({
  name: 'server_analytics_counts_check',
  expression: '"memberCount" >= 0 and "onlineCount" >= 0 and "messageCount" >= 0 and "voiceMinutes" >= 0',
})
export class ServerAnalytics {
  @PrimaryKey({ columnType: 'timestamptz' })
  timestamp: Date;

  @PrimaryKey({ type: 'bigint', autoincrement: false })
  serverId: string;

  @Property({ type: 'integer' })
  memberCount: number;

  @Property({ type: 'integer' })
  onlineCount: number;

  /** Messages sent in the server during the hour before the snapshot. */
  @Property({ type: 'integer' })
  messageCount: number;

  /** Voice minutes of the sessions that ended during the hour before the snapshot. */
  @Property({ type: 'integer' })
  voiceMinutes: number;

  constructor(row: {
    serverId: string;
    memberCount: number;
    onlineCount: number;
    messageCount: number;
    voiceMinutes: number;
    timestamp: Date;
  }) {
    this.serverId = row.serverId;
    this.memberCount = row.memberCount;
    this.onlineCount = row.onlineCount;
    this.messageCount = row.messageCount;
    this.voiceMinutes = row.voiceMinutes;
    this.timestamp = row.timestamp;
  }
}
