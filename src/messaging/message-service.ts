import type { EntityManager } from '@mikro-orm/postgresql';
import { LimitReached, NotFound, NotMessageAuthor, ThreadClosed, ValidationFailed } from '../domain/errors';
import { idArg, type IdArg } from '../domain/identity/ids';
import { LIMITS } from '../domain/limits';
import {
  type AttachmentInput,
  type Embed,
  parseMentions,
  textLength,
  validateAttachments,
  validateBulkDelete,
  validateEmbeds,
  validateMessageContent,
} from '../domain/messages';
import { relationshipLockKey } from '../db/lock-keys';
import { lockKeys, transact } from '../db/unit-of-work';
import { messageSentInsert } from '../entities/analytics/recording';
import { outboxInsert } from '../db/event-recorder';
import { newEntityInsert } from '../db/rows';
import { takeRecordedEvents } from '../domain/events';
import type { Channel } from '../entities/channel/Channel';
import { type ChannelAccess, loadChannelAccess } from '../entities/channel/ChannelAccess';
import { Message, MessageType, USER_MESSAGE_TYPES } from '../entities/message/Message';
import { MessageAttachment } from '../entities/message/MessageAttachment';
import { MessageEmbed } from '../entities/message/MessageEmbed';
import { AuditLogAction, AuditLogEntry, validateAuditReason } from '../entities/server/AuditLogEntry';
import { PremiumType, User } from '../entities/user/User';
import { channelAfterDelete, channelAfterPost, lockChannelRow, takeSlowmodeSlot } from './channel-counters';
import { assertContentEmojiUsable } from './emoji-usage';
import { mentionCountsUpsert, resolveMentions } from './mention-targets';
import { assertMayDirectMessage, directMessagePair } from './dm-privacy';

/** Who acts: the user entity, a reference, `{ id }`, or the user id. */
export type MessageActor = IdArg;

export interface SendOptions {
  /** Validated by validateAttachments (width and height may be omitted for non-images). */
  attachments?: (Omit<AttachmentInput, 'width' | 'height'> & Partial<Pick<AttachmentInput, 'width' | 'height'>>)[];
  /** Validated by validateEmbeds (fields may be omitted). */
  embeds?: (Omit<Embed, 'fields'> & Partial<Pick<Embed, 'fields'>>)[];
  /** The message replied to; it must be in the same channel. */
  replyTo?: IdArg;
  /** Whether a reply pings the author of the message replied to (default true, as Discord). */
  mentionRepliedUser?: boolean;
}

/** The options of a moderator's action: the audit log reason travels here, never positionally. */
export interface ModerationOptions {
  /** Audit log reason (1-512 characters) when a moderator acts; null or omitted for none. */
  reason?: string | null;
}

const reasonOf = (options: unknown) =>
  validateAuditReason(
    typeof options === 'object' && options !== null ? (options as ModerationOptions).reason : undefined,
  );

function sendOptions(value: unknown): SendOptions {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ValidationFailed('options', 'must be an object');
  return value;
}

/**
 * Sending, editing, deleting and pinning messages. Each operation is one unit of work: it loads the
 * actor's permissions in the channel inside the transaction, applies the rules, writes the message,
 * the channel's counters (atomic updates), mention counts, audit entries and events, and commits once.
 */
export class MessageService {
  constructor(private readonly em: EntityManager) {}

  /**
   * Sends a message. Needs VIEW_CHANNEL and SEND_MESSAGES (SEND_MESSAGES_IN_THREADS in a thread);
   * ATTACH_FILES for attachments, EMBED_LINKS for embeds, READ_MESSAGE_HISTORY to reply. Slowmode
   * holds per user unless they bypass it; a 1:1 DM refuses while either side blocks the other, or
   * when DM privacy no longer allows it (dm-privacy.ts). A timed-out member is refused
   * (MemberTimedOut); content that uses a custom emoji locked to roles the author holds none of is
   * refused (EmojiRoleLocked), at the cost of one read only when the content holds custom emoji.
   */
  async send(author: MessageActor, channel: IdArg, content: unknown, options?: SendOptions): Promise<Message> {
    const authorId = idArg(author, 'author');
    const channelId = idArg(channel, 'channel');
    const opts = sendOptions(options);
    return transact(this.em, async (tx) => {
      const access = await loadChannelAccess(tx, channelId, authorId, { textOnly: true });
      const target = access.channel;
      access.require(['VIEW_CHANNEL', target.isThread ? 'SEND_MESSAGES_IN_THREADS' : 'SEND_MESSAGES']);
      if (target.isThread) assertThreadOpen(access);

      const attachments = opts.attachments === undefined ? [] : validateAttachments(opts.attachments);
      const embeds = opts.embeds === undefined ? [] : validateEmbeds(opts.embeds);
      if (attachments.length > 0) access.require('ATTACH_FILES');
      if (embeds.length > 0) access.require('EMBED_LINKS');
      const text = validateMessageContent(content, {
        premium: access.premiumType === PremiumType.NITRO,
        hasAttachmentsOrEmbeds: attachments.length + embeds.length > 0,
      });
      await assertContentEmojiUsable(tx, authorId, text);
      const replyTo =
        opts.replyTo === undefined ? null : await this.repliedMessage(tx, access, idArg(opts.replyTo, 'replyTo'));

      if (target.type === 'DM') await assertMayDirectMessageIn(tx, access.recipientIds, authorId);
      await takeSlowmodeSlot(tx, access);

      const message = new Message(
        target,
        tx.getReference(User, authorId),
        text,
        replyTo ? MessageType.REPLY : MessageType.DEFAULT,
      );
      if (replyTo) message.replyTo = tx.getReference(Message, replyTo.id, { wrapped: true });
      for (const input of attachments) message.attachments.add(new MessageAttachment(message, input));
      for (const embed of embeds) message.embeds.add(new MessageEmbed(message, embed));
      message.attachmentCount = attachments.length;
      message.embedCount = embeds.length;

      const parsed = parseMentions(text);
      if (replyTo && opts.mentionRepliedUser !== false && !parsed.users.includes(replyTo.author.id))
        parsed.users.push(replyTo.author.id);
      const mentions = await resolveMentions(tx, access, parsed, authorId);
      message.mentionUserIds = mentions.userIds;
      message.mentionRoleIds = mentions.roleIds;
      message.mentionEveryone = mentions.everyone;
      message.addressTo(access.recipientIds);
      message.created();

      // One statement writes the message, its mention counts, its event and its analytics row, and moves
      // the channel's lastMessageId last: the channel's row lock, which every send in the channel waits
      // on, is held from that statement to the commit. Attachments and embeds follow in the closing flush.
      const events = takeRecordedEvents(message);
      await channelAfterPost(tx, target, message.id, authorId, [
        newEntityInsert(tx, message),
        ...mentionCountsUpsert(target.id, mentions.notify),
        ...(events.length > 0 ? [outboxInsert(events)] : []),
        messageSentInsert({
          serverId: message.serverId,
          channelId: target.id,
          userId: authorId,
          characters: textLength(text),
          at: message.createdAt,
        }),
      ]);
      tx.merge(message);
      return message;
    });
  }

  /** Replaces the content of one's own message; sets editedAt and re-parses mentions (no new pings, as Discord). */
  async edit(actor: MessageActor, message: IdArg, content: unknown): Promise<Message> {
    const actorId = idArg(actor, 'actor');
    const messageId = idArg(message, 'message');
    return transact(this.em, async (tx) => {
      const found = await this.loadMessage(tx, messageId);
      if (found.author.id !== actorId || !USER_MESSAGE_TYPES.has(found.type)) throw new NotMessageAuthor(messageId);
      const access = await loadChannelAccess(tx, found.channel.id, actorId);
      access.require('VIEW_CHANNEL');
      // Editing is sending new words: a timeout forbids it as it forbids a send.
      access.requireNotTimedOut(access.channel.isThread ? 'SEND_MESSAGES_IN_THREADS' : 'SEND_MESSAGES');
      const text = validateMessageContent(content, {
        premium: access.premiumType === PremiumType.NITRO,
        hasAttachmentsOrEmbeds: found.attachmentCount + found.embedCount > 0,
      });
      await assertContentEmojiUsable(tx, actorId, text);
      found.setContent(text);
      const mentions = await resolveMentions(tx, access, parseMentions(text), actorId);
      found.mentionUserIds = mentions.userIds;
      found.mentionRoleIds = mentions.roleIds;
      found.mentionEveryone = mentions.everyone;
      found.editedAt = new Date();
      found.addressTo(access.recipientIds).updated();
      return found;
    });
  }

  /** Deletes a message: its author, or a member with MANAGE_MESSAGES (audited as MESSAGE_DELETE). */
  async deleteMessage(actor: MessageActor, message: IdArg, options: ModerationOptions = {}): Promise<void> {
    const actorId = idArg(actor, 'actor');
    const messageId = idArg(message, 'message');
    const reason = reasonOf(options);
    await transact(this.em, async (tx) => {
      const found = await this.loadMessage(tx, messageId);
      const access = await loadChannelAccess(tx, found.channel.id, actorId);
      const own = found.author.id === actorId && USER_MESSAGE_TYPES.has(found.type);
      access.require(own ? 'VIEW_CHANNEL' : ['VIEW_CHANNEL', 'MANAGE_MESSAGES']);
      if (!own && access.server) {
        tx.persist(
          new AuditLogEntry(
            access.server.server,
            tx.getReference(User, actorId),
            AuditLogAction.MESSAGE_DELETE,
            found.author.id,
            [
              { key: 'channelId', new: found.channel.id },
              { key: 'count', new: 1 },
            ],
            reason,
          ),
        );
      }
      await channelAfterDelete(tx, access.channel, [found.id]);
      if (found.pinned) access.channel.pinsUpdated();
      found.addressTo(access.recipientIds).deleted();
      tx.remove(found);
    });
  }

  /** Deletes 2-100 messages of one channel, none older than 14 days. Needs MANAGE_MESSAGES. */
  async bulkDelete(
    actor: MessageActor,
    channel: IdArg,
    messageIds: unknown,
    options: ModerationOptions = {},
  ): Promise<number> {
    const actorId = idArg(actor, 'actor');
    const channelId = idArg(channel, 'channel');
    const ids = validateBulkDelete(messageIds, new Date());
    const reason = reasonOf(options);
    return transact(this.em, async (tx) => {
      const access = await loadChannelAccess(tx, channelId, actorId, { textOnly: true });
      access.require(['VIEW_CHANNEL', 'MANAGE_MESSAGES']);
      const found = await tx.find(Message, { id: { $in: ids }, channel: channelId }, { refresh: true });
      const missing = ids.filter((id) => !found.some((m) => m.id === id));
      if (missing.length > 0) throw new NotFound('Message', missing[0]);
      if (access.server) {
        tx.persist(
          new AuditLogEntry(
            access.server.server,
            tx.getReference(User, actorId),
            AuditLogAction.MESSAGE_BULK_DELETE,
            channelId,
            [{ key: 'count', new: ids.length }],
            reason,
          ),
        );
      }
      await channelAfterDelete(tx, access.channel, ids);
      if (found.some((m) => m.pinned)) access.channel.pinsUpdated();
      access.channel.messagesDeleted(ids);
      for (const m of found) tx.remove(m);
      return ids.length;
    });
  }

  /** Pins a message (MANAGE_MESSAGES or PIN_MESSAGES), at most 250 per channel; posts the PIN notice. */
  async pin(actor: MessageActor, message: IdArg, options: ModerationOptions = {}): Promise<Message> {
    return this.setPinned(actor, message, true, options);
  }

  async unpin(actor: MessageActor, message: IdArg, options: ModerationOptions = {}): Promise<Message> {
    return this.setPinned(actor, message, false, options);
  }

  /** The pinned messages of a channel, newest first (VIEW_CHANNEL and READ_MESSAGE_HISTORY). */
  async pins(viewer: MessageActor, channel: IdArg): Promise<Message[]> {
    const viewerId = idArg(viewer, 'viewer');
    const channelId = idArg(channel, 'channel');
    const em = this.em.fork();
    const access = await loadChannelAccess(em, channelId, viewerId, { textOnly: true });
    access.require(['VIEW_CHANNEL', 'READ_MESSAGE_HISTORY']);
    return em.find(
      Message,
      { channel: channelId, pinned: true },
      { orderBy: { id: 'desc' }, populate: ['attachments', 'embeds'] },
    );
  }

  private async setPinned(
    actor: MessageActor,
    message: IdArg,
    pinned: boolean,
    options: ModerationOptions,
  ): Promise<Message> {
    const actorId = idArg(actor, 'actor');
    const messageId = idArg(message, 'message');
    const reason = reasonOf(options);
    return transact(this.em, async (tx) => {
      const found = await this.loadMessage(tx, messageId);
      const access = await loadChannelAccess(tx, found.channel.id, actorId);
      access.require('VIEW_CHANNEL');
      if (!access.has('MANAGE_MESSAGES') && !access.has('PIN_MESSAGES')) access.require('PIN_MESSAGES');
      await lockChannelRow(tx, access.channel.id);
      await tx.refresh(found);
      if (found.pinned === pinned) return found;
      if (pinned) {
        const [{ count }] = await tx.execute<{ count: string }[]>(
          'select count(*) from "Message" where "channelId" = ? and "pinned"',
          [access.channel.id],
        );
        if (Number(count) >= LIMITS.pinsPerChannel) throw new LimitReached('pinsPerChannel', LIMITS.pinsPerChannel);
      }
      found.pinned = pinned;
      found.addressTo(access.recipientIds).updated();
      access.channel.lastPinTimestamp = new Date();
      access.channel.pinsUpdated();
      if (access.server) {
        tx.persist(
          new AuditLogEntry(
            access.server.server,
            tx.getReference(User, actorId),
            pinned ? AuditLogAction.MESSAGE_PIN : AuditLogAction.MESSAGE_UNPIN,
            found.author.id,
            [
              { key: 'channelId', new: access.channel.id },
              { key: 'messageId', new: found.id },
            ],
            reason,
          ),
        );
      }
      if (pinned) {
        const notice = tx.create(
          Message,
          new Message(access.channel, tx.getReference(User, actorId), '', MessageType.PIN),
          { persist: true },
        );
        notice.replyTo = tx.getReference(Message, found.id, { wrapped: true });
        await channelAfterPost(tx, access.channel, notice.id, actorId);
        notice.addressTo(access.recipientIds).created();
      }
      return found;
    });
  }

  private async loadMessage(tx: EntityManager, messageId: string): Promise<Message> {
    const found = await tx.findOne(Message, { id: messageId }, { refresh: true });
    if (!found) throw new NotFound('Message', messageId);
    return found;
  }

  private async repliedMessage(tx: EntityManager, access: ChannelAccess, replyToId: string): Promise<Message> {
    access.require('READ_MESSAGE_HISTORY');
    const replied = await tx.findOne(Message, { id: replyToId });
    if (!replied || replied.channel.id !== access.channel.id) {
      throw new ValidationFailed('replyTo', 'must be a message of the same channel', { replyTo: replyToId });
    }
    return replied;
  }
}

function assertThreadOpen(access: ChannelAccess): void {
  const thread: Channel = access.channel;
  if (thread.locked && !access.has('MANAGE_THREADS')) throw new ThreadClosed(thread.id, 'locked');
}

/**
 * A 1:1 DM refuses while either user blocks the other, and unless the pair are friends or share a
 * server where the recipient allows DMs (re-checked on every send: people unfriend and leave). The
 * send holds both users' relationship locks in shared mode (a block or unfriend takes them
 * exclusively), so they and the send are ordered; the one read locks the shared membership rows it
 * relies on (see dm-privacy.ts), so a leave or a setting turned off is ordered too.
 */
async function assertMayDirectMessageIn(
  tx: EntityManager,
  recipientIds: readonly string[],
  authorId: string,
): Promise<void> {
  const ids = [...recipientIds];
  await lockKeys(tx, ids.map(relationshipLockKey), 'shared');
  const other = ids.find((id) => id !== authorId) ?? authorId;
  assertMayDirectMessage(await directMessagePair(tx, authorId, other));
}
