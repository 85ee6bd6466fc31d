import { Entity, PrimaryKey, Property } from '@mikro-orm/core';
import { nextSnowflake } from '../../domain/snowflake';

/** One health sample of the database (the Operations health report records it through `recordSystemMetrics`). */
@Entity()
export class SystemMetrics {
  @PrimaryKey({ columnType: 'timestamptz' })
  timestamp: Date;

  @PrimaryKey({ type: 'bigint', autoincrement: false })
  id: string = nextSnowflake();

  @Property({ type: 'bigint' })
  databaseSizeBytes: string;

  @Property({ type: 'integer' })
  connections: number;

  /** 0..1, or null when the server has not read a block yet. */
  @Property({ type: 'double', nullable: true })
  cacheHitRatio: number | null;

  @Property({ type: 'double', nullable: true })
  transactionsPerSecond: number | null;

  constructor(row: {
    databaseSizeBytes: string;
    connections: number;
    cacheHitRatio: number | null;
    transactionsPerSecond: number | null;
    timestamp: Date;
  }) {
    this.databaseSizeBytes = row.databaseSizeBytes;
    this.connections = row.connections;
    this.cacheHitRatio = row.cacheHitRatio;
    this.transactionsPerSecond = row.transactionsPerSecond;
    this.timestamp = row.timestamp;
  }
}
