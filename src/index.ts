/**
 * @cryb/database: the public API. Entities carry the domain methods; repositories hold the rules
 * that need a query or a lock; src/domain holds the pure rules (no ORM).
 */
export * from './domain/errors';
export * from './domain/events';
export { LIMITS } from './domain/limits';
export {
  SnowflakeGenerator,
  nextSnowflake,
  snowflakeTimestamp,
  snowflakeAt,
  isSnowflake,
  compareSnowflakes,
  CRYB_EPOCH_MS,
} from './domain/snowflake';
export {
  validateUsername,
  parseTag,
  usernameKey,
  validateProfile,
  type ProfileChanges,
} from './domain/identity/username';
export { RelationshipStatus, RelationshipType } from './domain/identity/relationships';
export * from './domain/permissions';

export { ENTITIES } from './entities';
export { User, PremiumType, type NewUser } from './entities/user/User';
export { UserRepository } from './entities/user/UserRepository';
export { UserService, type Registration } from './services';
export {
  UserPresence,
  PresenceStatus,
  type PresenceUpdate,
  type Activity,
  type CustomStatus,
} from './entities/user/UserPresence';
export { Relationship } from './entities/user/Relationship';
export { RelationshipRepository, type RelationshipView } from './entities/user/RelationshipRepository';
export { RelationshipService } from './services';
export { Server } from './entities/server/Server';
export { ServerMember } from './entities/server/ServerMember';
export { MembershipRepository } from './entities/server/MembershipRepository';
export { Role, type RoleProps } from './entities/server/Role';
export { RoleRepository } from './entities/server/RoleRepository';
export { MemberRole } from './entities/server/MemberRole';
export { Invite } from './entities/server/Invite';
export { InviteRepository } from './entities/server/InviteRepository';
export { Ban } from './entities/server/Ban';
export { AuditLogEntry, AuditLogAction, type AuditChange } from './entities/server/AuditLogEntry';
export { AuditLogRepository, type AuditLogQuery } from './entities/server/AuditLogRepository';
export { Emoji } from './entities/server/Emoji';
export { EmojiRepository } from './entities/server/EmojiRepository';
export { Sticker, StickerFormat } from './entities/server/Sticker';
export { StickerRepository } from './entities/server/StickerRepository';
// Servers: the use cases (application services; entity methods such as member.kick forward to them).
export {
  ServerService,
  MembershipService,
  InviteService,
  RoleService,
  ChannelService,
  EmojiService,
  StickerService,
  AuditLogService,
} from './services';
export { type UserArg, type ServerArg, type MemberArg, type ReasonOption } from './servers/args';
export { type NewServer, type ServerChanges } from './servers/server-service';
export { type BanOptions } from './servers/membership-input';
export { type InviteOptions } from './servers/invite-service';
export { type NewRole, type RolePatch, type RolePosition } from './servers/role-service';
export { type NewChannel, type ChannelPatch, type OverwriteInput } from './servers/channel-service';
export { type NewEmoji, type EmojiUpdate, type NewSticker, type StickerUpdate } from './servers/expression-service';
export { emojiSlotsFor, stickerSlotsFor } from './domain/servers';
export { ServerAccess, loadServerAccess } from './entities/server/ServerAccess';
export { Channel, ChannelType, CHANNEL_TYPE_NUMBERS } from './entities/channel/Channel';
export { ChannelRepository } from './entities/channel/ChannelRepository';
export { PermissionOverwrite, OverwriteType } from './entities/channel/PermissionOverwrite';
export { EXPRESSION_SLOTS, maxBitrate } from './domain/servers';
export { ChannelAccess, loadChannelAccess } from './entities/channel/ChannelAccess';
export { ThreadMember } from './entities/channel/ThreadMember';
export {
  THREAD_CHANNEL_TYPES,
  PRIVATE_CHANNEL_TYPES,
  TEXT_CHANNEL_TYPES,
  THREAD_AUTO_ARCHIVE_MINUTES,
} from './entities/channel/Channel';

// Messages.
export * from './domain/messages';
export { Message, MessageType, MESSAGE_TYPE_NUMBERS } from './entities/message/Message';
export { MessageService, ReactionService, ReadStateService } from './services';
export { type MessageActor, type SendOptions, type ModerationOptions } from './messaging/message-service';
export { MessageAttachment } from './entities/message/MessageAttachment';
export { MessageEmbed } from './entities/message/MessageEmbed';
export { Reaction } from './entities/message/Reaction';
export { ReactionRepository, type ReactionCount } from './entities/message/ReactionRepository';
export { reactionLockKey } from './db/lock-keys';
export { ReadState } from './entities/message/ReadState';
export { type ChannelUnread, type UnreadSummary } from './messaging/read-state-service';
export { type IdArg } from './domain/identity/ids';
export { DomainEvent } from './entities/events/DomainEvent';
export { EventConsumer } from './entities/events/EventConsumer';
export {
  DomainEventRepository,
  EVENTS_CHANNEL,
  type DeliveredEvent,
  type PollOptions,
  type PruneOptions,
} from './entities/events/DomainEventRepository';

export { createOrm, migrate, pendingMigrations, migrationStatus, type CrybOrm, type MigrationStatus } from './db/orm';
export { crybConfig, resolveDatabaseUrl, type CrybOrmOptions } from './db/config';
export { CrybNamingStrategy } from './db/naming';
export { transact, unitOfWork, commit, entityManagerOf, lockKeys, type TransactOptions } from './db/unit-of-work';
export { translateDatabaseError } from './db/errors';
export { listenForEvents, type EventListener, type ListenOptions } from './db/event-listener';
export {
  consumeEvents,
  type ConsumeOptions,
  type ConsumeResult,
  type ConsumeContext,
  type EventBatchHandler,
} from './db/event-consumer';

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
export { DirectMessageService } from './services';
export { type GroupDMOptions, type DmChannelView } from './messaging/direct-message-service';

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
export {
  search,
  searchOn,
  searchQuery,
  searchBucketQuery,
  searchBuckets,
  SEARCH_BUCKET_DAYS,
  SEARCH_RANK_ALL_MAX,
  type SearchBucket,
  parseSearchQuery,
  cleanSearchText,
  SEARCH_LIMITS,
  type SearchQuery,
  type SearchResult,
  type SearchHas,
  type ParsedSearch,
} from './entities/message/search';
export {
  loadReadAccess,
  readAccessSql,
  viewableChannelIds,
  readSql,
  READ_BITS,
  type ReadAccess,
  type ReadSql,
} from './entities/message/read-access';
export { toPgQuery } from './entities/message/message-views';

// Threads.
export { ThreadService } from './services';
export {
  DEFAULT_AUTO_ARCHIVE_MINUTES,
  validateAutoArchiveDuration,
  type NewThread,
  type ThreadPatch,
  type ThreadTypeName,
} from './messaging/thread-rules';
export { type ArchivedThreadsOptions } from './messaging/thread-listings';
export { archiveInactiveThreads } from './entities/channel/thread-archiver';

// Operations: health report, backups, replicas, connection URLs (issue 9).
export { MIGRATION_LOCK_KEY } from './db/orm';
export { readConnection, readQueryBuilder, readOptions } from './db/read-replicas';
export {
  parseDatabaseUrl,
  replicaUrlsFromEnv,
  directDatabaseUrl,
  redactUrl,
  type DatabaseUrlOptions,
} from './db/connection-options';

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

// Seeders and invariants: '@cryb/database/seeders'. The studio: '@cryb/database/studio'.
// Health, backups, the cryb-db CLI and the embedded server: '@cryb/database/ops'.
// Test databases and scenarios for a service's own tests: '@cryb/database/testing'.
