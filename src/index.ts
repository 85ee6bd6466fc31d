/**
 * @cryb/database: the public API. Entities carry the domain methods; repositories hold the rules
 * that need a query or a lock; src/domain holds the pure rules (no ORM).
 */
export * from './domain/errors';
export * from './domain/events';
export { LIMITS } from './domain/limits';
export { SnowflakeGenerator, nextSnowflake, snowflakeTimestamp, snowflakeAt, isSnowflake, compareSnowflakes, CRYB_EPOCH_MS } from './domain/snowflake';
export { validateUsername, parseTag, usernameKey, validateProfile, type ProfileChanges } from './domain/identity/username';
export { RelationshipStatus, RelationshipType } from './domain/identity/relationships';
export * from './domain/permissions';

export { ENTITIES } from './entities';
export { User, PremiumType, type NewUser } from './entities/user/User';
export { UserRepository } from './entities/user/UserRepository';
export { UserService, type Registration } from './services';
export { UserPresence, PresenceStatus, type PresenceUpdate, type Activity, type CustomStatus } from './entities/user/UserPresence';
export { Relationship } from './entities/user/Relationship';
export { RelationshipRepository, type RelationshipView } from './entities/user/RelationshipRepository';
export { RelationshipService } from './services';
export { Server } from './entities/server/Server';
export { ServerRepository, type NewServer, type ServerChanges } from './entities/server/ServerRepository';
export { ServerMember } from './entities/server/ServerMember';
export { MembershipRepository, type UserArg, type ServerArg, type MemberArg, type ReasonOption, type BanOptions } from './entities/server/MembershipRepository';
export { Role, type RoleProps } from './entities/server/Role';
export { RoleRepository, type NewRole, type RolePatch, type RolePosition } from './entities/server/RoleRepository';
export { MemberRole } from './entities/server/MemberRole';
export { Invite } from './entities/server/Invite';
export { InviteRepository, type InviteOptions } from './entities/server/InviteRepository';
export { Ban } from './entities/server/Ban';
export { AuditLogEntry, AuditLogAction, type AuditChange } from './entities/server/AuditLogEntry';
export { AuditLogRepository, type AuditLogQuery } from './entities/server/AuditLogRepository';
export { Emoji } from './entities/server/Emoji';
export { Sticker, StickerFormat } from './entities/server/Sticker';
export { EmojiRepository, StickerRepository, type NewEmoji, type EmojiUpdate, type NewSticker, type StickerUpdate, emojiSlotsFor, stickerSlotsFor } from './entities/server/ExpressionRepository';
export { ServerAccess, loadServerAccess } from './entities/server/ServerAccess';
export { Channel, ChannelType, CHANNEL_TYPE_NUMBERS } from './entities/channel/Channel';
export { ChannelRepository, type NewChannel, type ChannelPatch, type OverwriteInput } from './entities/channel/ChannelRepository';
export { PermissionOverwrite, OverwriteType } from './entities/channel/PermissionOverwrite';
export { EXPRESSION_SLOTS, maxBitrate } from './domain/servers';
export { ChannelAccess, loadChannelAccess } from './entities/channel/ChannelAccess';
export { ThreadMember } from './entities/channel/ThreadMember';
export { THREAD_CHANNEL_TYPES, PRIVATE_CHANNEL_TYPES, TEXT_CHANNEL_TYPES, THREAD_AUTO_ARCHIVE_MINUTES } from './entities/channel/Channel';

// Messages.
export * from './domain/messages';
export { Message, MessageType, MESSAGE_TYPE_NUMBERS } from './entities/message/Message';
export { MessageRepository, type MessageActor, type SendOptions, type ModerationOptions } from './entities/message/MessageRepository';
export { MessageAttachment } from './entities/message/MessageAttachment';
export { MessageEmbed } from './entities/message/MessageEmbed';
export { Reaction } from './entities/message/Reaction';
export { ReactionRepository, reactionLockKey, type ReactionCount } from './entities/message/ReactionRepository';
export { ReadState } from './entities/message/ReadState';
export { ReadStateRepository, type ChannelUnread, type UnreadSummary } from './entities/message/ReadStateRepository';
export { type IdArg } from './domain/identity/ids';
export { DomainEvent } from './entities/events/DomainEvent';
export { EventConsumer } from './entities/events/EventConsumer';
export { DomainEventRepository, EVENTS_CHANNEL, type DeliveredEvent, type PollOptions, type PruneOptions } from './entities/events/DomainEventRepository';

export { createOrm, migrate, type CrybOrm } from './db/orm';
export { crybConfig, resolveDatabaseUrl, type CrybOrmOptions } from './db/config';
export { CrybNamingStrategy } from './db/naming';
export { transact, unitOfWork, commit, entityManagerOf, lockKeys, type TransactOptions } from './db/unit-of-work';
export { translateDatabaseError } from './db/errors';
export { listenForEvents, type EventListener, type ListenOptions } from './db/event-listener';
export { consumeEvents, type ConsumeOptions, type ConsumeResult, type ConsumeContext, type EventBatchHandler } from './db/event-consumer';
export { EmbeddedServer, projectEmbeddedServer, DEFAULT_EMBEDDED_PORT } from './db/embedded-server';

// Voice.
export { VoiceState } from './entities/voice/VoiceState';
export { VoiceSession } from './entities/voice/VoiceSession';
export { VoiceRepository, type ChannelArg, type VoiceTimePeriod } from './entities/voice/VoiceRepository';
export { VoiceService } from './services';
export { voiceUserLockKey } from './db/lock-keys';
export { endVoiceInServer, endVoiceInChannel } from './voice/end-voice';
export { type JoinVoiceOptions, type SelfVoiceChanges } from './voice/voice-args';

// Direct messages.
export { ChannelRecipient } from './entities/channel/ChannelRecipient';
export { DirectMessageRepository, type GroupDMOptions, type DmChannelView } from './entities/channel/DirectMessageRepository';

// Message history and search.
export {
  history,
  historyOn,
  historyQuery,
  parseHistoryOptions,
  mentionsOf,
  mentionsQuery,
  HISTORY_LIMITS,
  MENTIONS_LIMITS,
  type HistoryOptions,
  type HistoryCursor,
  type MentionsOptions,
  type MessageView,
  type MessageAuthorView,
  type AttachmentView,
  type ReactionView,
  type ThreadSummaryView,
} from './entities/message/MessageQueries';
export { search, searchOn, searchQuery, searchBucketQuery, searchBuckets, SEARCH_BUCKET_DAYS, SEARCH_RANK_ALL_MAX, type SearchBucket, parseSearchQuery, cleanSearchText, SEARCH_LIMITS, type SearchQuery, type SearchResult, type SearchHas, type ParsedSearch } from './entities/message/search';
export { loadReadAccess, readAccessSql, viewableChannelIds, readSql, READ_BITS, type ReadAccess, type ReadSql } from './entities/message/read-access';
export { toPgQuery } from './entities/message/message-views';

// Threads.
export { ThreadRepository, DEFAULT_AUTO_ARCHIVE_MINUTES, validateAutoArchiveDuration, type NewThread, type ThreadPatch, type ThreadTypeName } from './entities/channel/ThreadRepository';
export { archiveInactiveThreads, activeThreads, archivedThreads, type ArchivedThreadsOptions } from './entities/channel/thread-archiver';

// Operations: health report, backups, replicas, connection URLs (issue 9).
export { MIGRATION_LOCK_KEY } from './db/orm';
export { readConnection, readQueryBuilder, readOptions } from './db/read-replicas';
export { parseDatabaseUrl, replicaUrlsFromEnv, directDatabaseUrl, redactUrl, type DatabaseUrlOptions } from './db/connection-options';
export * from './ops';

// Analytics.
export { MessageAnalytics } from './entities/analytics/MessageAnalytics';
export { VoiceAnalytics } from './entities/analytics/VoiceAnalytics';
export { ServerAnalytics } from './entities/analytics/ServerAnalytics';
export { SystemMetrics } from './entities/analytics/SystemMetrics';
export {
  recordMessageSent,
  recordVoiceSession,
  recordSystemMetrics,
  type MessageSent,
  type VoiceSessionClosed,
  type SystemMetricsSample,
} from './entities/analytics/recording';
export {
  AnalyticsQueries,
  analytics,
  type AnalyticsPeriod,
  type ActivityBucket,
  type ActivityPoint,
  type ChannelActivity,
  type EngagementDay,
  type VoiceUsage,
  type ServerHour,
  type Dashboard,
} from './entities/analytics/AnalyticsQueries';
export {
  analyticsLayerState,
  applyAnalyticsLayer,
  refreshAnalytics,
  snapshotServerAnalytics,
  applyRetention,
  type AnalyticsPath,
  type AnalyticsLayerState,
  type RetentionResult,
} from './entities/analytics/maintenance';
export { renderHourlyChart, type ChartRow } from './entities/analytics/chart';
export { seedAnalyticsHistory, type AnalyticsHistoryOptions, type AnalyticsHistoryCounts } from './seeders/factories/AnalyticsFactory';

// Seeding, invariants and the studio.
export { checkInvariants, describeViolations, INVARIANTS, type InvariantViolation } from './db/invariants';
export { seedScenario, SeedRefused, WORLD_TABLES, type SeedRunOptions, type SeedReport, type SeededWorld } from './seeders/world/run';
export { DatabaseSeeder } from './seeders/DatabaseSeeder';
export { SmallSeeder } from './seeders/SmallSeeder';
export { LargeSeeder } from './seeders/LargeSeeder';
export { startStudio, type Studio, type StudioOptions } from './studio';
