import { Check, Collection, Entity, EntityRepositoryType, Enum, Index, ManyToOne, OneToMany, type Opt, PrimaryKey, Property, type Ref, ref } from '@mikro-orm/core';
import { AggregateRoot } from '../../domain/events';
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
