import { Check, Collection, Entity, EntityRepositoryType, Enum, Index, ManyToOne, OneToMany, type Opt, PrimaryKey, Property, type Ref, ref } from '@mikro-orm/core';
import { AggregateRoot } from '../../domain/events';
import { ValidationFailed } from '../../domain/errors';
import { MIN_BITRATE, maxBitrate, validateChannelName, validateIntegerIn } from '../../domain/servers';
import { nextSnowflake } from '../../domain/snowflake';
import type { Server } from '../server/Server';
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
}

export const CHANNEL_TYPE_NUMBERS: Record<ChannelType, number> = {
  GUILD_TEXT: 0,
  GUILD_VOICE: 2,
  GUILD_CATEGORY: 4,
  GUILD_ANNOUNCEMENT: 5,
  GUILD_STAGE_VOICE: 13,
  GUILD_FORUM: 15,
};

export const VOICE_CHANNEL_TYPES: ReadonlySet<ChannelType> = new Set([ChannelType.GUILD_VOICE, ChannelType.GUILD_STAGE_VOICE]);

/** Channel types that carry a topic. */
export const TOPIC_CHANNEL_TYPES: ReadonlySet<ChannelType> = new Set([ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT, ChannelType.GUILD_FORUM]);

/** Channel field limits (DESIGN.md section 10). */
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
@Check({ name: 'channel_rate_limit_check', expression: '"rateLimitPerUser" >= 0 and "rateLimitPerUser" <= 21600' })
@Check({ name: 'channel_user_limit_check', expression: '"userLimit" is null or "userLimit" >= 0 and "userLimit" <= 10000' })
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

  @Property({ type: 'bigint', nullable: true })
  lastMessageId: string | null = null;

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

  get isCategory(): boolean {
    return this.type === ChannelType.GUILD_CATEGORY;
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
    if ([...topic].length > CHANNEL_LIMITS.topic) throw new ValidationFailed('topic', `must be at most ${CHANNEL_LIMITS.topic} characters`, { max: CHANNEL_LIMITS.topic });
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
    const max = this.type === ChannelType.GUILD_STAGE_VOICE ? CHANNEL_LIMITS.stageUserLimit : CHANNEL_LIMITS.voiceUserLimit;
    this.userLimit = validateIntegerIn('userLimit', limit, 0, max);
  }

  /** @internal */ created(): void {
    this.recordEvent('CHANNEL_CREATE', { channel: this.toPublic() }, { serverId: this.server?.id ?? null, channelId: this.id });
  }
  /** @internal also for overwrite changes: Discord sends the channel with its overwrites. */
  updated(): void {
    this.recordEvent('CHANNEL_UPDATE', { channel: this.toPublic() }, { serverId: this.server?.id ?? null, channelId: this.id });
  }
  /** @internal */ deleted(): void {
    this.recordEvent('CHANNEL_DELETE', { channel: this.toPublic() }, { serverId: this.server?.id ?? null, channelId: this.id });
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
      permissionOverwrites: this.overwrites.isInitialized() ? this.overwrites.getItems().map((o) => o.toPublic()) : undefined,
    };
  }
}
