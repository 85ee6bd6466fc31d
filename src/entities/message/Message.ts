import { Collection, Entity, EntityRepositoryType, Enum, Index, ManyToOne, OneToMany, type Opt, PrimaryKey, Property, type Ref, ref } from '@mikro-orm/core';
import { AggregateRoot } from '../../domain/events';
import { type ParsedEmoji, parseMentions } from '../../domain/messages';
import { nextSnowflake, snowflakeTimestamp } from '../../domain/snowflake';
import { entityManagerOf } from '../../db/unit-of-work';
import { SnowflakeArrayType } from '../../db/types';
import type { Channel } from '../channel/Channel';
import type { User } from '../user/User';
import { MessageAttachment } from './MessageAttachment';
import { MessageEmbed } from './MessageEmbed';
import { MessageRepository, type MessageActor } from './MessageRepository';
import type { ReactionRepository } from './ReactionRepository';
import type { Reaction } from './Reaction';

/** Discord's message types that CRYB produces (numbers in MESSAGE_TYPE_NUMBERS). */
export enum MessageType {
  DEFAULT = 'DEFAULT',
  RECIPIENT_ADD = 'RECIPIENT_ADD',
  RECIPIENT_REMOVE = 'RECIPIENT_REMOVE',
  CHANNEL_NAME_CHANGE = 'CHANNEL_NAME_CHANGE',
  PIN = 'PIN',
  MEMBER_JOIN = 'MEMBER_JOIN',
  THREAD_CREATED = 'THREAD_CREATED',
  REPLY = 'REPLY',
  THREAD_STARTER = 'THREAD_STARTER',
}

export const MESSAGE_TYPE_NUMBERS: Record<MessageType, number> = {
  DEFAULT: 0,
  RECIPIENT_ADD: 1,
  RECIPIENT_REMOVE: 2,
  CHANNEL_NAME_CHANGE: 4,
  PIN: 6,
  MEMBER_JOIN: 7,
  THREAD_CREATED: 18,
  REPLY: 19,
  THREAD_STARTER: 21,
};

/** Types a user may delete; the rest are system messages only moderators remove. */
export const USER_MESSAGE_TYPES: ReadonlySet<MessageType> = new Set([MessageType.DEFAULT, MessageType.REPLY]);

function emojiView(emoji: ParsedEmoji) {
  return emoji.kind === 'custom' ? { id: emoji.id, name: emoji.name, animated: emoji.animated } : { id: null, name: emoji.name };
}

const LINK = /\bhttps?:\/\/\S/i;

/**
 * A message in a channel, DM or thread. Sending, editing and deleting go through MessageRepository
 * (they need the author's permissions, slowmode and blocks, read under locks); the entity holds the
 * state changes that follow from its own fields: mentions parsed from the content, the link flag.
 *
 * Indexes serve the hot queries: history pages by (channelId, id); pins (partial); a member's
 * mentions (GIN on the id array); search (GIN on the generated tsvector); an author's messages.
 * `serverId` is a plain column (the channel's foreign key already cascades), kept for search and
 * analytics filters without a join.
 */
@Entity({ repository: () => MessageRepository })
@Index({ name: 'Message_channelId_id_index', properties: ['channel', 'id'] })
@Index({ name: 'Message_authorId_id_index', properties: ['author', 'id'] })
@Index({ name: 'Message_pinned_index', expression: 'create index "Message_pinned_index" on "Message" ("channelId", "id") where "pinned"' })
@Index({ name: 'Message_replyToId_index', expression: 'create index "Message_replyToId_index" on "Message" ("replyToId") where "replyToId" is not null' })
@Index({ name: 'Message_mentionUserIds_index', expression: 'create index "Message_mentionUserIds_index" on "Message" using gin ("mentionUserIds")' })
@Index({ name: 'Message_searchVector_index', expression: 'create index "Message_searchVector_index" on "Message" using gin ("searchVector")' })
export class Message extends AggregateRoot {
  [EntityRepositoryType]?: MessageRepository;

  @PrimaryKey({ type: 'bigint', autoincrement: false })
  id: string = nextSnowflake();

  @ManyToOne({ entity: 'Channel', ref: true, deleteRule: 'cascade' })
  channel: Ref<Channel>;

  @Property({ type: 'bigint', nullable: true })
  serverId: string | null;

  @ManyToOne({ entity: 'User', ref: true, deleteRule: 'cascade' })
  author: Ref<User>;

  @Enum({ items: () => MessageType, default: MessageType.DEFAULT })
  type: MessageType & Opt = MessageType.DEFAULT;

  @Property({ type: 'text', default: '' })
  content: string & Opt = '';

  @Property({ nullable: true })
  editedAt: Date | null = null;

  @Property({ default: false })
  pinned: boolean & Opt = false;

  /** The message replied to (same channel); null once that message is deleted. */
  @ManyToOne({ entity: 'Message', ref: true, nullable: true, deleteRule: 'set null' })
  replyTo: Ref<Message> | null = null;

  /** `@everyone` or `@here` pinged (only when the author had MENTION_EVERYONE). */
  @Property({ default: false })
  mentionEveryone: boolean & Opt = false;

  @Property({ type: SnowflakeArrayType, defaultRaw: `'{}'::bigint[]` })
  mentionUserIds: string[] & Opt = [];

  @Property({ type: SnowflakeArrayType, defaultRaw: `'{}'::bigint[]` })
  mentionRoleIds: string[] & Opt = [];

  @Property({ type: 'smallint', default: 0 })
  attachmentCount: number & Opt = 0;

  @Property({ type: 'smallint', default: 0 })
  embedCount: number & Opt = 0;

  /** The content holds an http(s) link: search's has:link. */
  @Property({ default: false })
  hasLink: boolean & Opt = false;

  /** Full-text search vector, generated by PostgreSQL from the content. */
  @Property({ type: 'tsvector', generated: `(to_tsvector('english'::regconfig, content)) stored`, lazy: true, hidden: true, nullable: true, persist: true })
  searchVector?: string & Opt;

  @OneToMany({ entity: () => MessageAttachment, mappedBy: 'message', orphanRemoval: true })
  attachments = new Collection<MessageAttachment>(this);

  @OneToMany({ entity: () => MessageEmbed, mappedBy: 'message', orphanRemoval: true })
  embeds = new Collection<MessageEmbed>(this);

  @OneToMany({ entity: 'Reaction', mappedBy: 'message' })
  reactions = new Collection<Reaction>(this);

  constructor(channel: Channel, author: User | Ref<User>, content: string, type: MessageType = MessageType.DEFAULT) {
    super();
    this.channel = ref(channel);
    this.serverId = channel.server?.id ?? null;
    this.author = ref(author as User);
    this.type = type;
    this.setContent(content);
  }

  /** Derived from the snowflake: a message is created when its id is. */
  get createdAt(): Date {
    return snowflakeTimestamp(this.id);
  }

  /** The user and role mentions of the content (the ping of @everyone is decided by the sender's permissions). */
  get parsedMentions() {
    return parseMentions(this.content);
  }

  /** @internal sets content and what is derived from it; permission-dependent mentions are set by the repository. */
  setContent(content: string): void {
    this.content = content;
    this.hasLink = LINK.test(content);
  }

  /** Recipients of a DM or group DM: events of private channels go to them by name. Not persisted. */
  private audience?: string[];

  /** @internal set before recording events in a private channel. */
  addressTo(userIds: readonly string[]): this {
    this.audience = [...userIds];
    return this;
  }

  private scope() {
    return { serverId: this.serverId, channelId: this.channel.id, userIds: this.audience?.length ? this.audience : null };
  }
  /** @internal */ created(): void {
    this.recordEvent('MESSAGE_CREATE', { message: this.toPublic() }, this.scope());
  }
  /** @internal */ updated(): void {
    this.recordEvent('MESSAGE_UPDATE', { message: this.toPublic() }, this.scope());
  }
  /** @internal */ deleted(): void {
    this.recordEvent('MESSAGE_DELETE', { id: this.id, channelId: this.channel.id, serverId: this.serverId }, this.scope());
  }

  /** @internal */ reactionAdded(userId: string, emoji: ParsedEmoji): void {
    this.recordEvent('MESSAGE_REACTION_ADD', { userId, messageId: this.id, channelId: this.channel.id, serverId: this.serverId, emoji: emojiView(emoji) }, this.scope());
  }
  /** @internal */ reactionRemoved(userId: string, emoji: ParsedEmoji): void {
    this.recordEvent('MESSAGE_REACTION_REMOVE', { userId, messageId: this.id, channelId: this.channel.id, serverId: this.serverId, emoji: emojiView(emoji) }, this.scope());
  }
  /** @internal all reactions, or all of one emoji. */
  reactionsCleared(emoji: ParsedEmoji | null): void {
    this.recordEvent('MESSAGE_REACTION_REMOVE_ALL', { messageId: this.id, channelId: this.channel.id, serverId: this.serverId, emoji: emoji ? emojiView(emoji) : null }, this.scope());
  }

  // Domain methods: each runs as one unit of work through the repositories.

  /** Replaces the content (the author only); sets editedAt and re-parses mentions. */
  edit(actor: MessageActor, content: string): Promise<Message> {
    return this.repo().edit(actor, this, content);
  }

  /** Deletes it: the author, or a member with MANAGE_MESSAGES (audited). */
  delete(actor: MessageActor, options: { reason?: string } = {}): Promise<void> {
    return this.repo().deleteMessage(actor, this, options);
  }

  pin(actor: MessageActor, options: { reason?: string } = {}): Promise<Message> {
    return this.repo().pin(actor, this, options);
  }

  unpin(actor: MessageActor, options: { reason?: string } = {}): Promise<Message> {
    return this.repo().unpin(actor, this, options);
  }

  react(user: MessageActor, emoji: string): Promise<boolean> {
    return this.reactions$().react(user, this, emoji);
  }

  unreact(user: MessageActor, emoji: string): Promise<boolean> {
    return this.reactions$().unreact(user, this, emoji);
  }

  private repo(): MessageRepository {
    return entityManagerOf(this).getRepository(Message);
  }

  private reactions$(): ReactionRepository {
    return entityManagerOf(this).getRepository<Reaction>('Reaction') as ReactionRepository;
  }

  toPublic() {
    return {
      id: this.id,
      channelId: this.channel.id,
      serverId: this.serverId,
      authorId: this.author.id,
      type: this.type,
      content: this.content,
      createdAt: this.createdAt.toISOString(),
      editedAt: this.editedAt?.toISOString() ?? null,
      pinned: this.pinned,
      replyToId: this.replyTo?.id ?? null,
      mentionEveryone: this.mentionEveryone,
      mentionUserIds: this.mentionUserIds,
      mentionRoleIds: this.mentionRoleIds,
      attachments: this.attachments.isInitialized() ? this.attachments.getItems().map((a) => a.toPublic()) : [],
      embeds: this.embeds.isInitialized() ? this.embeds.getItems().map((e) => e.toPublic()) : [],
    };
  }
}
