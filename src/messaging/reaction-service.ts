import type { EntityManager } from '@mikro-orm/postgresql';
import { LimitReached, NotFound } from '../domain/errors';
import { idArg, type IdArg } from '../domain/identity/ids';
import { LIMITS } from '../domain/limits';
import { assertMayUseEmoji, type ParsedEmoji, parseEmoji, reactionKey } from '../domain/messages';
import { reactionLockKey } from '../db/lock-keys';
import { lockKeys, transact } from '../db/unit-of-work';
import { type ChannelAccess, loadChannelAccess } from '../entities/channel/ChannelAccess';
import { Message } from '../entities/message/Message';
import { Reaction } from '../entities/message/Reaction';
import { User } from '../entities/user/User';
import { loadEmojiFacts } from './emoji-usage';

/**
 * Reactions. Every change to one message's reactions takes that message's reaction lock, so the
 * "20 distinct emoji per message" check and the insert it guards are one step under concurrency
 * (the primary key alone already makes reacting twice a no-op).
 */
export class ReactionService {
  constructor(private readonly em: EntityManager) {}

  /**
   * Reacts: needs VIEW_CHANNEL and READ_MESSAGE_HISTORY, plus ADD_REACTIONS when the emoji is not on
   * the message yet, and USE_EXTERNAL_EMOJIS for a custom emoji of another server. A timed-out member
   * may not react at all, not even by adding to a reaction already there (MemberTimedOut); a custom
   * emoji locked to roles needs one of them (EmojiRoleLocked). Returns false when the user had already
   * reacted with it.
   */
  async react(user: IdArg, message: IdArg, emoji: unknown): Promise<boolean> {
    const userId = idArg(user, 'user');
    const messageId = idArg(message, 'message');
    const parsed = parseEmoji(emoji);
    const key = reactionKey(parsed);
    return transact(this.em, async (tx) => {
      const { found, access } = await this.load(tx, messageId, userId);
      access.require(['VIEW_CHANNEL', 'READ_MESSAGE_HISTORY']);
      access.requireNotTimedOut('ADD_REACTIONS');
      if (parsed.kind === 'custom') await this.checkCustomEmoji(tx, access, parsed);
      await lockKeys(tx, [reactionLockKey(messageId)]);
      const [tally] = await tx.execute<{ distinct: string; present: boolean; mine: boolean }[]>(
        `select count(distinct "emojiKey") as "distinct", coalesce(bool_or("emojiKey" = ?), false) as "present",
                coalesce(bool_or("emojiKey" = ? and "userId" = ?), false) as "mine"
           from "Reaction" where "messageId" = ?`,
        [key, key, userId, messageId],
      );
      if (tally.mine) return false;
      if (!tally.present) {
        access.require('ADD_REACTIONS');
        if (Number(tally.distinct) >= LIMITS.uniqueReactionsPerMessage)
          throw new LimitReached('uniqueReactionsPerMessage', LIMITS.uniqueReactionsPerMessage);
      }
      tx.persist(new Reaction(found, tx.getReference(User, userId), parsed));
      found.addressTo(access.recipientIds).reactionAdded(userId, parsed);
      return true;
    });
  }

  /** Removes one's own reaction; false when there was none. */
  async unreact(user: IdArg, message: IdArg, emoji: unknown): Promise<boolean> {
    const userId = idArg(user, 'user');
    return this.remove$(userId, idArg(message, 'message'), parseEmoji(emoji), userId);
  }

  /** Removes `user`'s reaction with `emoji` (MANAGE_MESSAGES); false when there was none. */
  async removeReaction(actor: IdArg, message: IdArg, user: IdArg, emoji: unknown): Promise<boolean> {
    return this.remove$(idArg(actor, 'actor'), idArg(message, 'message'), parseEmoji(emoji), idArg(user, 'user'));
  }

  /** Removes every reaction of a message, or every reaction with one emoji (MANAGE_MESSAGES). Returns how many. */
  async removeAllReactions(actor: IdArg, message: IdArg, emoji?: unknown): Promise<number> {
    const actorId = idArg(actor, 'actor');
    const messageId = idArg(message, 'message');
    const parsed = emoji === undefined ? null : parseEmoji(emoji);
    return transact(this.em, async (tx) => {
      const { found, access } = await this.load(tx, messageId, actorId);
      access.require(['VIEW_CHANNEL', 'MANAGE_MESSAGES']);
      await lockKeys(tx, [reactionLockKey(messageId)]);
      const removed = await tx.nativeDelete(
        Reaction,
        parsed ? { message: messageId, emojiKey: reactionKey(parsed) } : { message: messageId },
      );
      if (removed > 0) found.addressTo(access.recipientIds).reactionsCleared(parsed);
      return removed;
    });
  }

  private async remove$(actorId: string, messageId: string, emoji: ParsedEmoji, userId: string): Promise<boolean> {
    return transact(this.em, async (tx) => {
      const { found, access } = await this.load(tx, messageId, actorId);
      access.require(actorId === userId ? 'VIEW_CHANNEL' : ['VIEW_CHANNEL', 'MANAGE_MESSAGES']);
      await lockKeys(tx, [reactionLockKey(messageId)]);
      const removed = await tx.nativeDelete(Reaction, {
        message: messageId,
        emojiKey: reactionKey(emoji),
        user: userId,
      });
      if (removed > 0) found.addressTo(access.recipientIds).reactionRemoved(userId, emoji);
      return removed > 0;
    });
  }

  private async load(
    tx: EntityManager,
    messageId: string,
    userId: string,
  ): Promise<{ found: Message; access: ChannelAccess }> {
    const found = await tx.findOne(Message, { id: messageId }, { refresh: true });
    if (!found) throw new NotFound('Message', messageId);
    return { found, access: await loadChannelAccess(tx, found.channel.id, userId) };
  }

  private async checkCustomEmoji(
    tx: EntityManager,
    access: ChannelAccess,
    emoji: Extract<ParsedEmoji, { kind: 'custom' }>,
  ): Promise<void> {
    const [row] = await loadEmojiFacts(tx, access.userId, [emoji.id]);
    if (!row) throw new NotFound('Emoji', emoji.id);
    if (row.serverId !== access.channel.server?.id) access.require('USE_EXTERNAL_EMOJIS');
    assertMayUseEmoji(row, row.heldRoleIds, 'emoji');
  }
}
