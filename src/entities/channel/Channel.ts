import {
  Check,
  Collection,
  Entity,
  EntityRepositoryType,
  Enum,
  Index,
  ManyToOne,
  OneToMany,
  type Opt,
  PrimaryKey,
  Property,
  type Ref,
  ref,
} from '@mikro-orm/core';
import { AggregateRoot } from '../../domain/events';
import { ValidationFailed } from '../../domain/errors';
import { MIN_BITRATE, maxBitrate, validateChannelName, validateIntegerIn } from '../../domain/servers';
import { nextSnowflake } from '../../domain/snowflake';
import type { Server } from '../server/Server';
import type { IdArg } from '../../domain/identity/ids';
import type { Message } from '../message/Message';
import type { SendOptions } from '../../messaging/message-service';
import { serviceFor } from '../services';
import type { User } from '../user/User';
import { ChannelRepository } from './ChannelRepository';
import { PermissionOverwrite } from './PermissionOverwrite';

/** Discord's channel types, by name (their numbers are in CHANNEL_TYPE_NUMBERS). */
export enum ChannelType {
  GUILD_TEXT = 'GUILD_TEXT',
  GUILD_VOICE = 'GUILD_VOICE',
  GUILD_CATEGORY = 'GUILD_CATEGORY',
  GUILD_ANNOUNCEMENT = 'GUILD_ANNOUNCEMENT',
  GUILD_STAGE_VOICE = 'GUILD_STAGE_VOICE',
  GUILD_FORUM = 'GUILD_FORUM',
  DM = 'DM',
  GROUP_DM = 'GROUP_DM',
  ANNOUNCEMENT_THREAD = 'ANNOUNCEMENT_THREAD',
  PUBLIC_THREAD = 'PUBLIC_THREAD',
  PRIVATE_THREAD = 'PRIVATE_THREAD',
}

export const CHANNEL_TYPE_NUMBERS: Record<ChannelType, number> = {
  GUILD_TEXT: 0,
  GUILD_VOICE: 2,
  GUILD_CATEGORY: 4,
  GUILD_ANNOUNCEMENT: 5,
  GUILD_STAGE_VOICE: 13,
  GUILD_FORUM: 15,
  DM: 1,
  GROUP_DM: 3,
  ANNOUNCEMENT_THREAD: 10,
  PUBLIC_THREAD: 11,
  PRIVATE_THREAD: 12,
};

/** The types `createChannel` makes: a server's own channels (threads and DMs have their own repositories). */
export const SERVER_CHANNEL_TYPES: readonly ChannelType[] = [
  ChannelType.GUILD_TEXT,
  ChannelType.GUILD_VOICE,
  ChannelType.GUILD_CATEGORY,
  ChannelType.GUILD_ANNOUNCEMENT,
  ChannelType.GUILD_STAGE_VOICE,
  ChannelType.GUILD_FORUM,
];

export const THREAD_CHANNEL_TYPES: ReadonlySet<ChannelType> = new Set([
  ChannelType.ANNOUNCEMENT_THREAD,
  ChannelType.PUBLIC_THREAD,
  ChannelType.PRIVATE_THREAD,
]);
export const PRIVATE_CHANNEL_TYPES: ReadonlySet<ChannelType> = new Set([ChannelType.DM, ChannelType.GROUP_DM]);
/** Channels that hold messages. */
export const TEXT_CHANNEL_TYPES: ReadonlySet<ChannelType> = new Set([
  ChannelType.GUILD_TEXT,
  ChannelType.GUILD_ANNOUNCEMENT,
  ChannelType.GUILD_VOICE,
  ChannelType.GUILD_STAGE_VOICE,
  ...THREAD_CHANNEL_TYPES,
  ...PRIVATE_CHANNEL_TYPES,
]);
/** Thread auto-archive durations in minutes (docs/architecture.md §10). */
export const THREAD_AUTO_ARCHIVE_MINUTES = [60, 1440, 4320, 10080] as const;

export const VOICE_CHANNEL_TYPES: ReadonlySet<ChannelType> = new Set([
  ChannelType.GUILD_VOICE,
  ChannelType.GUILD_STAGE_VOICE,
]);

/** Channel types that carry a topic. */
export const TOPIC_CHANNEL_TYPES: ReadonlySet<ChannelType> = new Set([
  ChannelType.GUILD_TEXT,
  ChannelType.GUILD_ANNOUNCEMENT,
  ChannelType.GUILD_FORUM,
]);

/** Channel field limits (docs/architecture.md §10). */
export const CHANNEL_LIMITS = {
  topic: 1024,
  slowmode: 21_600,
  voiceUserLimit: 99,
  stageUserLimit: 10_000,
  defaultBitrate: 64_000,
} as const;

@Entity({ repository: () => ChannelRepository })
@Index({ name: 'Channel_serverId_position_index', properties: ['server', 'position'] })
@Index({ name: 'Channel_parentId_index', properties: ['parent'] })
@Index({
  name: 'Channel_active_threads_index',
  expression:
    'create index "Channel_active_threads_index" on "Channel" ("parentId") where "autoArchiveDuration" is not null ' +
    'and "archived" = false',
})
@Check({ name: 'channel_rate_limit_check', expression: '"rateLimitPerUser" >= 0 and "rateLimitPerUser" <= 21600' })
@Check({
  name: 'channel_user_limit_check',
  expression: '"userLimit" is null or "userLimit" >= 0 and "userLimit" <= 10000',
})
@Check({ name: 'channel_counts_check', expression: '"messageCount" >= 0 and "memberCount" >= 0' })
@Check({
  name: 'channel_auto_archive_check',
  expression: '"autoArchiveDuration" is null or "autoArchiveDuration" = any (array[60, 1440, 4320, 10080])',
})
export class Channel extends AggregateRoot {
  [EntityRepositoryType]?: ChannelRepository;

  @PrimaryKey({ type: 'bigint', autoincrement: false })
  id: string = nextSnowflake();

  @ManyToOne({ entity: 'Server', ref: true, nullable: true, deleteRule: 'cascade' })
  server: Ref<Server> | null;

  @Enum({ items: () => ChannelType })
  type: ChannelType;

  @Property({ length: 100, nullable: true })
  name: string | null;

  @Property({ length: 1024, nullable: true })
  topic: string | null = null;

  @Property({ type: 'integer', default: 0 })
  position: number & Opt = 0;

  /** The category a channel sits in. */
  @ManyToOne({ entity: 'Channel', ref: true, nullable: true, deleteRule: 'set null' })
  parent: Ref<Channel> | null = null;

  @Property({ default: false })
  nsfw: boolean & Opt = false;

  /** Slowmode, in seconds. */
  @Property({ type: 'integer', default: 0 })
  rateLimitPerUser: number & Opt = 0;

  @Property({ type: 'integer', nullable: true })
  bitrate: number | null = null;

  /** 0 means no limit. */
  @Property({ type: 'integer', nullable: true })
  userLimit: number | null = null;

  /** Kept current by every send and delete, with atomic updates (concurrent sends never move it back). */
  @Property({ type: 'bigint', nullable: true })
  lastMessageId: string | null = null;

  /** A thread's creator, or a group DM's owner. */
  @ManyToOne({ entity: 'User', ref: true, nullable: true, deleteRule: 'set null' })
  owner: Ref<User> | null = null;

  /** A DM's pair of recipients, `lowId:highId`: unique, so one pair never gets two DM channels. */
  @Property({ length: 41, nullable: true, unique: 'Channel_dmKey_unique', hidden: true })
  dmKey: string | null = null;

  /** Threads: messages sent in it (the starter message excluded) and members joined. */
  @Property({ type: 'integer', default: 0 })
  messageCount: number & Opt = 0;

  @Property({ type: 'integer', default: 0 })
  memberCount: number & Opt = 0;

  /** Threads: minutes of inactivity before the archiver archives it. */
  @Property({ type: 'integer', nullable: true })
  autoArchiveDuration: number | null = null;

  @Property({ default: false })
  archived: boolean & Opt = false;

  /** When the thread was last archived or unarchived. */
  @Property({ nullable: true })
  archiveTimestamp: Date | null = null;

  /** Locked threads take messages only from members with MANAGE_THREADS. */
  @Property({ default: false })
  locked: boolean & Opt = false;

  @Property({ nullable: true })
  lastPinTimestamp: Date | null = null;

  @Property({ defaultRaw: 'now()' })
  createdAt: Date & Opt = new Date();

  @OneToMany({ entity: () => PermissionOverwrite, mappedBy: 'channel', orphanRemoval: true })
  overwrites = new Collection<PermissionOverwrite>(this);

  constructor(server: Server | null, type: ChannelType, name: string | null) {
    super();
    this.server = server ? ref(server) : null;
    this.type = type;
    this.name = name;
  }

  get isVoice(): boolean {
    return VOICE_CHANNEL_TYPES.has(this.type);
  }

  get isThread(): boolean {
    return THREAD_CHANNEL_TYPES.has(this.type);
  }

  get isPrivate(): boolean {
    return PRIVATE_CHANNEL_TYPES.has(this.type);
  }

  get holdsMessages(): boolean {
    return TEXT_CHANNEL_TYPES.has(this.type);
  }

  get isCategory(): boolean {
    return this.type === ChannelType.GUILD_CATEGORY;
  }

  // Messaging: each call is one unit of work on the EntityManager that manages this channel.

  /** Sends a message as `author` (see MessageService.send for the rules). */
  send(author: IdArg, content: string, options?: SendOptions): Promise<Message> {
    return serviceFor(this, 'messages').send(author, this, content, options);
  }

  /** Marks the channel read up to `messageId` for `user`. */
  ack(user: IdArg, messageId: IdArg): Promise<void> {
    return serviceFor(this, 'readStates').ack(user, this, messageId);
  }

  // Field rules: each validates its input (ValidationFailed naming the field) before it changes anything.

  rename(name: unknown): void {
    this.name = validateChannelName(name);
  }

  /** Text, announcement and forum channels only; null or '' clears it. At most 1024 characters. */
  setTopic(topic: unknown): void {
    if (topic === null || topic === '') {
      this.topic = null;
      return;
    }
    if (!TOPIC_CHANNEL_TYPES.has(this.type)) throw new ValidationFailed('topic', `a ${this.type} channel has no topic`);
    if (typeof topic !== 'string') throw new ValidationFailed('topic', 'must be a string');
    if ([...topic].length > CHANNEL_LIMITS.topic)
      throw new ValidationFailed('topic', `must be at most ${CHANNEL_LIMITS.topic} characters`, {
        max: CHANNEL_LIMITS.topic,
      });
    this.topic = topic;
  }

  setNsfw(nsfw: unknown): void {
    if (typeof nsfw !== 'boolean') throw new ValidationFailed('nsfw', 'must be a boolean');
    if (this.isCategory && nsfw) throw new ValidationFailed('nsfw', 'a category cannot be NSFW');
    this.nsfw = nsfw;
  }

  /** Slowmode in seconds, 0-21600; not for categories. */
  setSlowmode(seconds: unknown): void {
    if (this.isCategory) throw new ValidationFailed('rateLimitPerUser', 'a category has no slowmode');
    this.rateLimitPerUser = validateIntegerIn('rateLimitPerUser', seconds, 0, CHANNEL_LIMITS.slowmode);
  }

  /** Voice and stage channels only: 8000 up to the server's boost tier ceiling. */
  setBitrate(bitrate: unknown, premiumTier: number): void {
    if (!this.isVoice) throw new ValidationFailed('bitrate', `a ${this.type} channel has no bitrate`);
    this.bitrate = validateIntegerIn('bitrate', bitrate, MIN_BITRATE, maxBitrate(premiumTier));
  }

  /** Voice channels 0-99, stage channels 0-10000 (0 = no limit). */
  setUserLimit(limit: unknown): void {
    if (!this.isVoice) throw new ValidationFailed('userLimit', `a ${this.type} channel has no user limit`);
    const max =
      this.type === ChannelType.GUILD_STAGE_VOICE ? CHANNEL_LIMITS.stageUserLimit : CHANNEL_LIMITS.voiceUserLimit;
    this.userLimit = validateIntegerIn('userLimit', limit, 0, max);
  }

  /** @internal */ created(): void {
    this.recordEvent(
      'CHANNEL_CREATE',
      { channel: this.toPublic() },
      { serverId: this.server?.id ?? null, channelId: this.id },
    );
  }
  /** @internal also for overwrite changes: Discord sends the channel with its overwrites. */
  updated(): void {
    this.recordEvent(
      'CHANNEL_UPDATE',
      { channel: this.toPublic() },
      { serverId: this.server?.id ?? null, channelId: this.id },
    );
  }
  /** @internal */ deleted(): void {
    this.recordEvent(
      'CHANNEL_DELETE',
      { channel: this.toPublic() },
      { serverId: this.server?.id ?? null, channelId: this.id },
    );
  }

  /**
   * @internal DM and group DM events: no server routes them, so they go to the recipients named
   * (Discord sends the channel with its recipients).
   */
  privateChannelEvent(
    type: 'CHANNEL_CREATE' | 'CHANNEL_UPDATE' | 'CHANNEL_DELETE',
    recipientIds: readonly string[],
    userIds: readonly string[] = recipientIds,
  ): void {
    this.recordEvent(
      type,
      { channel: { ...this.toPublic(), recipientIds: [...recipientIds] } },
      { serverId: null, channelId: this.id, userIds: [...userIds] },
    );
  }

  /** @internal */ pinsUpdated(): void {
    this.recordEvent(
      'CHANNEL_PINS_UPDATE',
      {
        channelId: this.id,
        serverId: this.server?.id ?? null,
        lastPinTimestamp: this.lastPinTimestamp?.toISOString() ?? null,
      },
      this.scope(),
    );
  }
  /** @internal */ messagesDeleted(ids: readonly string[]): void {
    this.recordEvent(
      'MESSAGE_DELETE_BULK',
      { ids: [...ids], channelId: this.id, serverId: this.server?.id ?? null },
      this.scope(),
    );
  }
  /** @internal a thread's state changed (fields given; the rest as the entity holds them). */
  threadUpdated(changes: Record<string, unknown> = {}): void {
    this.recordEvent('THREAD_UPDATE', { thread: { ...this.toPublic(), ...changes } }, this.scope());
  }
  /** @internal a new thread (newlyCreated, as Discord's THREAD_CREATE for the creator). */
  threadCreated(): void {
    this.recordEvent('THREAD_CREATE', { thread: this.toPublic(), newlyCreated: true }, this.scope());
  }
  /** @internal */ threadDeleted(): void {
    this.recordEvent(
      'THREAD_DELETE',
      { id: this.id, serverId: this.server?.id ?? null, parentId: this.parent?.id ?? null, type: this.type },
      this.scope(),
    );
  }
  /** @internal */ threadMembersChanged(added: readonly string[], removed: readonly string[]): void {
    this.recordEvent(
      'THREAD_MEMBERS_UPDATE',
      { id: this.id, serverId: this.server?.id ?? null, addedMemberIds: [...added], removedMemberIds: [...removed] },
      this.scope(),
    );
  }

  /** Who hears of this channel's events: its server, or the recipients of a DM (set by the DM code). */
  private scope() {
    return { serverId: this.server?.id ?? null, channelId: this.id };
  }

  toPublic() {
    return {
      id: this.id,
      serverId: this.server?.id ?? null,
      type: this.type,
      name: this.name,
      topic: this.topic,
      position: this.position,
      parentId: this.parent?.id ?? null,
      nsfw: this.nsfw,
      rateLimitPerUser: this.rateLimitPerUser,
      bitrate: this.bitrate,
      userLimit: this.userLimit,
      permissionOverwrites: this.overwrites.isInitialized()
        ? this.overwrites.getItems().map((o) => o.toPublic())
        : undefined,
      lastMessageId: this.lastMessageId,
      ownerId: this.owner?.id ?? null,
      ...(this.isThread
        ? {
            messageCount: this.messageCount,
            memberCount: this.memberCount,
            threadMetadata: {
              archived: this.archived,
              autoArchiveDuration: this.autoArchiveDuration,
              archiveTimestamp: this.archiveTimestamp,
              locked: this.locked,
            },
          }
        : {}),
    };
  }
}
