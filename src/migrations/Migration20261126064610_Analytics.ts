import { Migration } from '@mikro-orm/migrations';

export class Migration20261126064610_Analytics extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "MessageAnalytics" ("timestamp" timestamptz not null, "id" bigint not null, "serverId" bigint null, "channelId" bigint not null, "userId" bigint not null, "messageCount" int not null, "characterCount" int not null, constraint "MessageAnalytics_pkey" primary key ("timestamp", "id"), constraint message_analytics_counts_check check ("messageCount" >= 0 and "characterCount" >= 0));`,
    );
    this.addSql(
      `create index "MessageAnalytics_userId_timestamp_index" on "MessageAnalytics" ("userId", "timestamp");`,
    );
    this.addSql(
      `create index "MessageAnalytics_serverId_timestamp_index" on "MessageAnalytics" ("serverId", "timestamp");`,
    );

    this.addSql(
      `create table "ServerAnalytics" ("timestamp" timestamptz not null, "serverId" bigint not null, "memberCount" int not null, "onlineCount" int not null, "messageCount" int not null, "voiceMinutes" int not null, constraint "ServerAnalytics_pkey" primary key ("timestamp", "serverId"), constraint server_analytics_counts_check check ("memberCount" >= 0 and "onlineCount" >= 0 and "messageCount" >= 0 and "voiceMinutes" >= 0));`,
    );

    this.addSql(
      `create table "SystemMetrics" ("timestamp" timestamptz not null, "id" bigint not null, "databaseSizeBytes" bigint not null, "connections" int not null, "cacheHitRatio" double precision null, "transactionsPerSecond" double precision null, constraint "SystemMetrics_pkey" primary key ("timestamp", "id"));`,
    );

    this.addSql(
      `create table "VoiceAnalytics" ("timestamp" timestamptz not null, "id" bigint not null, "serverId" bigint not null, "channelId" bigint not null, "userId" bigint not null, "sessionDuration" int not null, constraint "VoiceAnalytics_pkey" primary key ("timestamp", "id"), constraint voice_analytics_duration_check check ("sessionDuration" >= 0));`,
    );
    this.addSql(`create index "VoiceAnalytics_userId_timestamp_index" on "VoiceAnalytics" ("userId", "timestamp");`);
    this.addSql(
      `create index "VoiceAnalytics_serverId_timestamp_index" on "VoiceAnalytics" ("serverId", "timestamp");`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "MessageAnalytics" cascade;`);

    this.addSql(`drop table if exists "ServerAnalytics" cascade;`);

    this.addSql(`drop table if exists "SystemMetrics" cascade;`);

    this.addSql(`drop table if exists "VoiceAnalytics" cascade;`);
  }
}
