import type { EntityManager } from '@mikro-orm/postgresql';
import {
  AlreadyExists,
  LimitReached,
  NotARecipient,
  NotChannelOwner,
  NotFound,
  NotFriends,
  UserBlocked,
  ValidationFailed,
} from '../domain/errors';
import { idArg, type IdArg } from '../domain/identity/ids';
import { LIMITS } from '../domain/limits';
import { validateChannelName } from '../domain/servers';
import { directMessageLockKey, relationshipLockKey } from '../db/lock-keys';
import { lockKeys, transact } from '../db/unit-of-work';
import { Channel, ChannelType } from '../entities/channel/Channel';
import { ChannelRecipient } from '../entities/channel/ChannelRecipient';
import { Message, MessageType } from '../entities/message/Message';
import { User } from '../entities/user/User';
import { channelAfterPost, lockChannelRow } from './channel-counters';
import { assertMayDirectMessage, directMessagePair } from './dm-privacy';

export interface GroupDMOptions {
  /** 1-100 characters; null or '' for none (clients then list the recipients). */
  name?: string | null;
}

/** A DM or group DM as its user sees it: the channel and the other recipients (Discord omits oneself). */
export interface DmChannelView {
  channel: Channel;
  recipients: User[];
}

const DM_KEY_CONSTRAINT = 'Channel_dmKey_unique';

/**
 * DMs and group DMs. Rules decided here (Discord's where it has one):
 * - one DM channel per unordered pair: an advisory lock on the pair serialises opens, and the unique
 *   `dmKey` is the backstop (a lost race re-reads). Opening refuses oneself, and refuses while either
 *   side blocks the other, even when the DM exists already.
 * - Discord's privacy default: a 1:1 DM opens (and, in MessageService.send, takes a message) only
 *   between friends or members of a shared server where the recipient allows DMs from members
 *   (ServerMember.allowDirectMessages, default on); otherwise DirectMessagesNotAllowed (dm-privacy.ts).
 * - a 1:1 DM is never left or deleted: Discord "closes" a DM only in the client; its history stays.
 * - group DMs hold 2-10 recipients when created, the owner included; any recipient may add users,
 *   but only their own friends (Discord's rule, which also keeps blocked users out); only the owner
 *   removes others; anyone leaves. The owner leaving hands ownership to the longest-standing
 *   recipient (addedAt, then userId); the last one leaving deletes the channel and its messages.
 * - recipient changes and renames post Discord's system messages (RECIPIENT_ADD/_REMOVE,
 *   CHANNEL_NAME_CHANGE), so history and lastMessageId show them.
 * Recipient changes take the channel's row lock first, so the count check holds under concurrency.
 * Checks against relationships take both users' relationship locks in shared mode, as a send does:
 * a block (exclusive) is ordered before or after them, never between check and commit.
 */
export class DirectMessageService {
  constructor(private readonly em: EntityManager) {}

  /** The DM channel of `user` and `other`, created on first use (CHANNEL_CREATE to both). */
  async openDM(user: IdArg, other: IdArg): Promise<Channel> {
    const a = idArg(user, 'user');
    const b = idArg(other, 'recipient');
    if (a === b) throw new ValidationFailed('recipient', 'cannot open a DM with oneself');
    const [low, high] = BigInt(a) < BigInt(b) ? [a, b] : [b, a];
    const dmKey = `${low}:${high}`;
    const open = () =>
      transact(this.em, async (tx) => {
        await lockRelationshipsShared(tx, [a, b]);
        await assertUsersExist(tx, [a, b]);
        assertMayDirectMessage(await directMessagePair(tx, a, b));
        await lockKeys(tx, [directMessageLockKey(dmKey)]);
        const existing = await tx.findOne(Channel, { dmKey }, { refresh: true });
        if (existing) return existing;
        const channel = new Channel(null, ChannelType.DM, null);
        channel.dmKey = dmKey;
        tx.persist([
          channel,
          new ChannelRecipient(channel, tx.getReference(User, low)),
          new ChannelRecipient(channel, tx.getReference(User, high)),
        ]);
        channel.privateChannelEvent('CHANNEL_CREATE', [low, high]);
        return channel;
      });
    try {
      return await open();
    } catch (error) {
      // Only reachable if the pair lock were bypassed: the winner's channel is there to read now.
      if (error instanceof AlreadyExists && error.constraint === DM_KEY_CONSTRAINT) return open();
      throw error;
    }
  }

  /** A group DM owned by `owner` with `recipientIds` (owner included: 2-10 in all; duplicates ignored). */
  async createGroupDM(owner: IdArg, recipientIds: readonly IdArg[], options: GroupDMOptions = {}): Promise<Channel> {
    const ownerId = idArg(owner, 'owner');
    if (!Array.isArray(recipientIds)) throw new ValidationFailed('recipientIds', 'must be an array of users');
    const others = [...new Set(recipientIds.map((r, i) => idArg(r, `recipientIds[${i}]`)))].filter(
      (id) => id !== ownerId,
    );
    if (others.length === 0)
      throw new ValidationFailed('recipientIds', 'a group DM needs at least one other recipient', { min: 2 });
    if (others.length + 1 > LIMITS.groupDmRecipients)
      throw new LimitReached('groupDmRecipients', LIMITS.groupDmRecipients);
    const name = groupName(options?.name);
    return transact(this.em, async (tx) => {
      await lockRelationshipsShared(tx, [ownerId, ...others]);
      await assertUsersExist(tx, [ownerId, ...others]);
      assertMayAdd(await pairStates(tx, ownerId, others));
      const channel = new Channel(null, ChannelType.GROUP_DM, name);
      channel.owner = tx.getReference(User, ownerId, { wrapped: true });
      const addedAt = new Date();
      const recipients = [ownerId, ...others].map((id) =>
        Object.assign(new ChannelRecipient(channel, tx.getReference(User, id)), { addedAt }),
      );
      tx.persist([channel, ...recipients]);
      channel.privateChannelEvent('CHANNEL_CREATE', [ownerId, ...others]);
      return channel;
    });
  }

  /** Adds `user` (a friend of `actor`, who must be a recipient); at most 10 recipients. Already in: no-op. */
  async addRecipient(actor: IdArg, channel: IdArg, user: IdArg): Promise<Channel> {
    const actorId = idArg(actor, 'actor');
    const channelId = idArg(channel, 'channel');
    const userId = idArg(user, 'user');
    return transact(this.em, async (tx) => {
      const group = await lockGroup(tx, channelId);
      const recipients = await recipientIdsOf(tx, channelId);
      if (!recipients.includes(actorId)) throw new NotARecipient(channelId);
      if (recipients.includes(userId)) return group;
      if (recipients.length >= LIMITS.groupDmRecipients)
        throw new LimitReached('groupDmRecipients', LIMITS.groupDmRecipients);
      await lockRelationshipsShared(tx, [actorId, userId]);
      await assertUsersExist(tx, [userId]);
      assertMayAdd(await pairStates(tx, actorId, [userId]));
      tx.persist(new ChannelRecipient(group, tx.getReference(User, userId)));
      const after = [...recipients, userId];
      await postSystemMessage(tx, group, after, actorId, MessageType.RECIPIENT_ADD, '', [userId]);
      group.privateChannelEvent('CHANNEL_UPDATE', after, recipients);
      group.privateChannelEvent('CHANNEL_CREATE', after, [userId]);
      return group;
    });
  }

  /** The owner removes `user`; anyone removing themself leaves (see leaveGroupDM). */
  async removeRecipient(actor: IdArg, channel: IdArg, user: IdArg): Promise<void> {
    const actorId = idArg(actor, 'actor');
    const channelId = idArg(channel, 'channel');
    const userId = idArg(user, 'user');
    if (actorId === userId) return this.leaveGroupDM(actorId, channelId);
    await transact(this.em, async (tx) => {
      const group = await lockGroup(tx, channelId);
      const recipients = await recipientIdsOf(tx, channelId);
      if (!recipients.includes(actorId)) throw new NotARecipient(channelId);
      if (group.owner?.id !== actorId) throw new NotChannelOwner(channelId);
      if (!recipients.includes(userId)) throw new NotFound('ChannelRecipient', userId);
      await tx.nativeDelete(ChannelRecipient, { channel: channelId, user: userId });
      await postSystemMessage(tx, group, recipients, actorId, MessageType.RECIPIENT_REMOVE, '', [userId]);
      const after = recipients.filter((id) => id !== userId);
      group.privateChannelEvent('CHANNEL_UPDATE', after);
      group.privateChannelEvent('CHANNEL_DELETE', after, [userId]);
    });
  }

  /**
   * Leaves a group DM. The owner's leaving passes ownership to the longest-standing recipient; the
   * last recipient's leaving deletes the channel (CHANNEL_DELETE). A 1:1 DM cannot be left.
   */
  async leaveGroupDM(user: IdArg, channel: IdArg): Promise<void> {
    const userId = idArg(user, 'user');
    const channelId = idArg(channel, 'channel');
    await transact(this.em, async (tx) => {
      const group = await lockGroup(tx, channelId);
      const recipients = await recipientIdsOf(tx, channelId);
      if (!recipients.includes(userId)) throw new NotARecipient(channelId);
      const remaining = recipients.filter((id) => id !== userId);
      if (remaining.length === 0) {
        group.privateChannelEvent('CHANNEL_DELETE', [], [userId]);
        tx.remove(group); // recipients, messages and read states cascade in the database
        return;
      }
      await tx.nativeDelete(ChannelRecipient, { channel: channelId, user: userId });
      if (group.owner?.id === userId) group.owner = tx.getReference(User, remaining[0], { wrapped: true });
      await postSystemMessage(tx, group, recipients, userId, MessageType.RECIPIENT_REMOVE, '', [userId]);
      group.privateChannelEvent('CHANNEL_UPDATE', remaining);
      group.privateChannelEvent('CHANNEL_DELETE', remaining, [userId]);
    });
  }

  /** Any recipient renames a group DM (null or '' clears the name); posts CHANNEL_NAME_CHANGE. */
  async renameGroupDM(actor: IdArg, channel: IdArg, name: string | null): Promise<Channel> {
    const actorId = idArg(actor, 'actor');
    const channelId = idArg(channel, 'channel');
    const newName = groupName(name);
    return transact(this.em, async (tx) => {
      const group = await lockGroup(tx, channelId);
      const recipients = await recipientIdsOf(tx, channelId);
      if (!recipients.includes(actorId)) throw new NotARecipient(channelId);
      if (group.name === newName) return group;
      group.name = newName;
      await postSystemMessage(tx, group, recipients, actorId, MessageType.CHANNEL_NAME_CHANGE, newName ?? '');
      group.privateChannelEvent('CHANNEL_UPDATE', recipients);
      return group;
    });
  }

  /** The user's DMs and group DMs with the other recipients, most recent activity first. */
  async dmChannelsOf(user: IdArg): Promise<DmChannelView[]> {
    const userId = idArg(user, 'user');
    const em = this.em.fork();
    const rows = await em.execute<{ id: string }[]>(
      `select c.id::text as id from "Channel" c join "ChannelRecipient" r on r."channelId" = c.id
        where r."userId" = ? order by c."lastMessageId" desc nulls last, c.id desc`,
      [userId],
    );
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const channels = new Map((await em.find(Channel, { id: { $in: ids } })).map((c) => [c.id, c]));
    const recipients = await em.find(
      ChannelRecipient,
      { channel: { $in: ids }, user: { $ne: userId } },
      { populate: ['user'], orderBy: { addedAt: 'asc', user: 'asc' } },
    );
    return ids.map((id) => ({
      channel: channels.get(id)!,
      recipients: recipients.filter((r) => r.channel.id === id).map((r) => r.user.getEntity()),
    }));
  }
}

function groupName(value: unknown): string | null {
  return value === undefined || value === null || value === '' ? null : validateChannelName(value);
}

/** Loads a group DM under its row lock (recipient changes: check, count, act). */
async function lockGroup(tx: EntityManager, channelId: string): Promise<Channel> {
  // The type is checked before the lock so a refused 1:1 DM never holds its row (sends update it).
  const [row] = await tx.execute<{ type: string }[]>('select "type" from "Channel" where "id" = ?', [channelId]);
  if (!row) throw new NotFound('Channel', channelId);
  if (row.type === ChannelType.DM)
    throw new ValidationFailed(
      'channel',
      'a 1:1 DM has fixed recipients: it cannot be left, added to or removed from',
      { channelId },
    );
  if (row.type !== ChannelType.GROUP_DM) throw new ValidationFailed('channel', 'must be a group DM', { channelId });
  await lockChannelRow(tx, channelId);
  const group = await tx.findOne(Channel, { id: channelId }, { refresh: true });
  if (!group) throw new NotFound('Channel', channelId); // its last recipient left while we waited
  return group;
}

/** Recipients, longest-standing first (the order ownership passes in). */
async function recipientIdsOf(tx: EntityManager, channelId: string): Promise<string[]> {
  const rows = await tx.execute<{ id: string }[]>(
    'select "userId"::text as id from "ChannelRecipient" where "channelId" = ? order by "addedAt", "userId"',
    [channelId],
  );
  return rows.map((r) => r.id);
}

async function lockRelationshipsShared(tx: EntityManager, userIds: string[]): Promise<void> {
  await lockKeys(tx, userIds.map(relationshipLockKey), 'shared');
}

async function assertUsersExist(tx: EntityManager, userIds: string[]): Promise<void> {
  const rows = await tx.execute<{ id: string }[]>(
    'select "id"::text as id from "User" where "id" = any(array[?]::bigint[])',
    [userIds],
  );
  const found = new Set(rows.map((r) => r.id));
  const missing = userIds.find((id) => !found.has(id));
  if (missing) throw new NotFound('User', missing);
}

interface PairState {
  id: string;
  friends: boolean;
  blocked: boolean;
}

/** How `actorId` stands with each of `otherIds` (read under the shared relationship locks). */
async function pairStates(tx: EntityManager, actorId: string, otherIds: string[]): Promise<PairState[]> {
  return tx.execute<PairState[]>(
    `select u.id::text as id, coalesce(r.status = 'FRIENDS', false) as friends, coalesce(r."aBlocksB" or r."bBlocksA",
      false) as blocked
       from unnest(array[?]::bigint[]) as u(id)
       left join "Relationship" r on r."userAId" = least(u.id, ?::bigint) and r."userBId" = greatest(u.id, ?::bigint)`,
    [otherIds, actorId, actorId],
  );
}

function assertMayAdd(states: PairState[]): void {
  if (states.some((s) => s.blocked)) throw new UserBlocked();
  if (states.some((s) => !s.friends)) throw new NotFriends();
}

/**
 * A system message, through the entity and channelAfterPost so lastMessageId and events follow.
 * Its MESSAGE_CREATE goes to `audience`: everyone who had the channel (a removed user sees why).
 */
async function postSystemMessage(
  tx: EntityManager,
  channel: Channel,
  audience: readonly string[],
  authorId: string,
  type: MessageType,
  content: string,
  mentionUserIds: string[] = [],
): Promise<void> {
  const message = new Message(channel, tx.getReference(User, authorId), content, type);
  message.mentionUserIds = mentionUserIds;
  tx.persist(message);
  await channelAfterPost(tx, channel, message.id, authorId);
  message.addressTo(audience).created();
}
