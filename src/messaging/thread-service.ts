import { ref } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import {
  AlreadyExists,
  MissingPermission,
  NotAThread,
  NotFound,
  ThreadAlreadyExists,
  ThreadClosed,
  ValidationFailed,
} from '../domain/errors';
import { idArg, type IdArg } from '../domain/identity/ids';
import { PermissionFlags } from '../domain/permissions';
import { nextSnowflake } from '../domain/snowflake';
import { transact } from '../db/unit-of-work';
import { Channel, ChannelType } from '../entities/channel/Channel';
import { type ChannelAccess, loadChannelAccess } from '../entities/channel/ChannelAccess';
import { ThreadMember } from '../entities/channel/ThreadMember';
import { Message, MessageType, USER_MESSAGE_TYPES } from '../entities/message/Message';
import { User } from '../entities/user/User';
import { channelAfterPost, lockChannelRow } from './channel-counters';
import { activeThreads, archivedThreads, type ArchivedThreadsOptions } from './thread-listings';
import {
  newThreadFields,
  patchFields,
  threadTypeFor,
  type NewThread,
  type ThreadPatch,
  type ThreadTypeName,
} from './thread-rules';

export {
  DEFAULT_AUTO_ARCHIVE_MINUTES,
  validateAutoArchiveDuration,
  type NewThread,
  type ThreadPatch,
  type ThreadTypeName,
} from './thread-rules';

/** Loads a thread and the user's permissions in it (NotAThread for any other channel). */
async function loadThreadAccess(tx: EntityManager, threadId: string, userId: string): Promise<ChannelAccess> {
  const access = await loadChannelAccess(tx, threadId, userId);
  if (!access.channel.isThread) throw new NotAThread(threadId, access.channel.type);
  return access;
}

function assertNotArchived(thread: Channel): void {
  if (thread.archived) throw new ThreadClosed(thread.id, 'archived');
}

/**
 * Membership changes, each one statement: the row and the counter move together, by what the
 * statement actually inserted or deleted, so concurrent joins, leaves and first sends (which join
 * through channelAfterPost the same way) keep memberCount equal to the ThreadMember rows.
 */
async function insertMember(tx: EntityManager, threadId: string, userId: string): Promise<boolean> {
  const rows = await tx.execute(
    `with joined as (insert into "ThreadMember" ("threadId", "userId") values (?, ?) on conflict do nothing returning 1)
     update "Channel" set "memberCount" = "memberCount" + (select count(*) from joined)
     where "id" = ? and exists (select 1 from joined) returning 1`,
    [threadId, userId, threadId],
  );
  return rows.length > 0;
}

async function deleteMember(tx: EntityManager, threadId: string, userId: string): Promise<boolean> {
  const rows = await tx.execute(
    `with gone as (delete from "ThreadMember" where "threadId" = ? and "userId" = ? returning 1)
     update "Channel" set "memberCount" = "memberCount" - (select count(*) from gone)
     where "id" = ? and exists (select 1 from gone) returning 1`,
    [threadId, userId, threadId],
  );
  return rows.length > 0;
}

/**
 * Threads (Discord's rules). Every operation is one unit of work that loads the actor's permissions
 * inside the transaction and records its THREAD_* events with the change.
 *
 * - A thread started from a message takes the message's id ("the thread of message M" is channel M),
 *   so a message starts at most one thread (the primary key is the backstop: ThreadAlreadyExists). Its
 *   first message is a THREAD_STARTER pointing at M, which stays in the parent.
 * - A standalone public or announcement thread posts a THREAD_CREATED notice in the parent; a private
 *   one does not (the notice would reveal it to everyone who reads the parent).
 * - The creator joins (memberCount 1). Threads take their parent's overwrites; private threads admit
 *   only their members and holders of MANAGE_THREADS (see loadChannelAccess).
 */
export class ThreadService {
  constructor(private readonly em: EntityManager) {}

  /**
   * A thread without a starter message. Public and announcement threads need CREATE_PUBLIC_THREADS,
   * private threads CREATE_PRIVATE_THREADS (text channels only); VIEW_CHANNEL on the parent always.
   */
  async createThread(actor: IdArg, parent: IdArg, input: NewThread): Promise<Channel> {
    const actorId = idArg(actor, 'actor');
    const parentId = idArg(parent, 'parent');
    const fields = newThreadFields(input);
    return await transact(this.em, async (tx) => {
      const access = await loadChannelAccess(tx, parentId, actorId);
      const type = threadTypeFor(access.channel, fields.type, false);
      access.require([
        'VIEW_CHANNEL',
        type === ChannelType.PRIVATE_THREAD ? 'CREATE_PRIVATE_THREADS' : 'CREATE_PUBLIC_THREADS',
      ]);
      const thread = this.openThread(tx, access, type, fields, nextSnowflake());
      if (type !== ChannelType.PRIVATE_THREAD) {
        const notice = tx.create(
          Message,
          new Message(access.channel, tx.getReference(User, actorId), fields.name, MessageType.THREAD_CREATED),
          { persist: true },
        );
        await channelAfterPost(tx, access.channel, notice.id, actorId);
        notice.created();
      }
      return thread;
    });
  }

  /**
   * A thread from a message of a text channel (PUBLIC_THREAD) or an announcement channel
   * (ANNOUNCEMENT_THREAD). Needs VIEW_CHANNEL, READ_MESSAGE_HISTORY and CREATE_PUBLIC_THREADS there.
   */
  async startThread(
    actor: IdArg,
    message: IdArg,
    input: Omit<NewThread, 'type'> & { type?: ThreadTypeName },
  ): Promise<Channel> {
    const actorId = idArg(actor, 'actor');
    const messageId = idArg(message, 'message');
    const fields = newThreadFields(input);
    try {
      return await transact(this.em, async (tx) => {
        const starter = await tx.findOne(Message, { id: messageId }, { refresh: true });
        if (!starter) throw new NotFound('Message', messageId);
        const access = await loadChannelAccess(tx, starter.channel.id, actorId);
        const type = threadTypeFor(access.channel, fields.type, true);
        access.require(['VIEW_CHANNEL', 'READ_MESSAGE_HISTORY', 'CREATE_PUBLIC_THREADS']);
        if (!USER_MESSAGE_TYPES.has(starter.type))
          throw new ValidationFailed('message', 'a system message cannot start a thread', { messageId });
        if ((await tx.count(Channel, { id: messageId })) > 0) throw new ThreadAlreadyExists(messageId);
        const thread = this.openThread(tx, access, type, fields, messageId);
        const first = tx.create(
          Message,
          new Message(thread, tx.getReference(User, actorId), '', MessageType.THREAD_STARTER),
          { persist: true },
        );
        first.replyTo = ref(starter);
        thread.lastMessageId = first.id;
        first.created();
        return thread;
      });
    } catch (error) {
      // Two starts from one message at once: the second insert meets the first's primary key.
      if (error instanceof AlreadyExists && error.constraint === 'Channel_pkey')
        throw new ThreadAlreadyExists(messageId);
      throw error;
    }
  }

  /**
   * Changes a thread. MANAGE_THREADS may change anything; the creator may rename it, set its
   * auto-archive duration and archive it; anyone who may send in it may unarchive it unless it is
   * locked (then MANAGE_THREADS). Locking and slowmode need MANAGE_THREADS. An archived thread takes
   * no other change unless the same patch unarchives it (ThreadClosed). Nothing changed, nothing written.
   */
  async updateThread(actor: IdArg, thread: IdArg, patch: ThreadPatch): Promise<Channel> {
    const actorId = idArg(actor, 'actor');
    const threadId = idArg(thread, 'thread');
    const fields = patchFields(patch);
    return await transact(this.em, async (tx) => {
      // Under the row lock: the archived/locked state the rules read is the one the change replaces.
      await lockChannelRow(tx, threadId);
      const access = await loadThreadAccess(tx, threadId, actorId);
      access.require('VIEW_CHANNEL');
      // The creator's rights (rename, archive) need no permission; a timeout still takes them.
      access.requireNotTimedOut('SEND_MESSAGES_IN_THREADS');
      const target = access.channel;
      const changes = Object.fromEntries(
        Object.entries(fields).filter(([key, value]) => target[key as keyof ThreadPatch] !== value),
      ) as ThreadPatch;
      if (Object.keys(changes).length === 0) return target;
      if (target.archived && changes.archived !== false && Object.keys(changes).some((key) => key !== 'locked'))
        throw new ThreadClosed(target.id, 'archived');

      const moderator = access.has('MANAGE_THREADS');
      const creator = target.owner?.id === actorId;
      const moderatorOnly =
        changes.locked !== undefined ||
        changes.rateLimitPerUser !== undefined ||
        (changes.archived === false && target.locked);
      const creatorMay =
        changes.name !== undefined || changes.autoArchiveDuration !== undefined || changes.archived === true;
      if (!moderator && (moderatorOnly || (creatorMay && !creator)))
        throw new MissingPermission('MANAGE_THREADS', { channelId: target.id });
      if (changes.archived === false && !moderator && !creator) access.require('SEND_MESSAGES_IN_THREADS');

      if (changes.name !== undefined) target.name = changes.name;
      if (changes.autoArchiveDuration !== undefined) target.autoArchiveDuration = changes.autoArchiveDuration;
      if (changes.rateLimitPerUser !== undefined) target.rateLimitPerUser = changes.rateLimitPerUser;
      if (changes.locked !== undefined) target.locked = changes.locked;
      if (changes.archived !== undefined) {
        target.archived = changes.archived;
        target.archiveTimestamp = new Date();
      }
      target.threadUpdated();
      return target;
    });
  }

  /** Deletes a thread with its messages and members (MANAGE_THREADS). The starter message stays in the parent. */
  async deleteThread(actor: IdArg, thread: IdArg): Promise<void> {
    const actorId = idArg(actor, 'actor');
    const threadId = idArg(thread, 'thread');
    await transact(this.em, async (tx) => {
      await lockChannelRow(tx, threadId);
      const access = await loadThreadAccess(tx, threadId, actorId);
      access.require(['VIEW_CHANNEL', 'MANAGE_THREADS']);
      access.channel.threadDeleted();
      tx.remove(access.channel);
    });
  }

  /**
   * Joins a thread one can see (public: whoever views the parent; private: members already, or
   * MANAGE_THREADS). Not while archived, nor while timed out (MemberTimedOut). Returns false,
   * writing nothing, when already a member.
   */
  async joinThread(actor: IdArg, thread: IdArg): Promise<boolean> {
    const actorId = idArg(actor, 'actor');
    const threadId = idArg(thread, 'thread');
    return await transact(this.em, async (tx) => {
      const access = await loadThreadAccess(tx, threadId, actorId);
      access.require('VIEW_CHANNEL');
      access.requireNotTimedOut('SEND_MESSAGES_IN_THREADS');
      assertNotArchived(access.channel);
      const joined = await insertMember(tx, threadId, actorId);
      if (joined) access.channel.threadMembersChanged([actorId], []);
      return joined;
    });
  }

  /** Leaves a thread (not while archived). Returns false, writing nothing, when not a member. */
  async leaveThread(actor: IdArg, thread: IdArg): Promise<boolean> {
    const actorId = idArg(actor, 'actor');
    const threadId = idArg(thread, 'thread');
    return await transact(this.em, async (tx) => {
      const access = await loadThreadAccess(tx, threadId, actorId);
      assertNotArchived(access.channel);
      const left = await deleteMember(tx, threadId, actorId);
      if (left) access.channel.threadMembersChanged([], [actorId]);
      return left;
    });
  }

  /**
   * Adds a member of the server to a thread. The actor must be able to send in it (so a private
   * thread's members may invite; Discord's per-thread `invitable` switch is not modelled); the user
   * must be able to see the parent. Not while archived. Returns false when already a member.
   */
  async addThreadMember(actor: IdArg, thread: IdArg, user: IdArg): Promise<boolean> {
    const actorId = idArg(actor, 'actor');
    const threadId = idArg(thread, 'thread');
    const userId = idArg(user, 'user');
    return await transact(this.em, async (tx) => {
      const access = await loadThreadAccess(tx, threadId, actorId);
      access.require(['VIEW_CHANNEL', 'SEND_MESSAGES_IN_THREADS']);
      assertNotArchived(access.channel);
      if (access.channel.locked && !access.has('MANAGE_THREADS')) throw new ThreadClosed(threadId, 'locked');
      const invited = await loadThreadAccess(tx, threadId, userId);
      // Being added is joining: not while the invited member is timed out.
      invited.requireNotTimedOut('SEND_MESSAGES_IN_THREADS', { userId });
      const wouldSee = invited.server!.permissions(invited.channel, { overwritesFrom: invited.parent!, member: true });
      if ((wouldSee & PermissionFlags.VIEW_CHANNEL) === 0n)
        throw new MissingPermission('VIEW_CHANNEL', { channelId: threadId, userId });
      const added = await insertMember(tx, threadId, userId);
      if (added) access.channel.threadMembersChanged([userId], []);
      return added;
    });
  }

  /**
   * Removes a member: MANAGE_THREADS, or the creator of a private thread (as Discord). Not while
   * archived. Returns false when the user was not a member.
   */
  async removeThreadMember(actor: IdArg, thread: IdArg, user: IdArg): Promise<boolean> {
    const actorId = idArg(actor, 'actor');
    const threadId = idArg(thread, 'thread');
    const userId = idArg(user, 'user');
    return await transact(this.em, async (tx) => {
      const access = await loadThreadAccess(tx, threadId, actorId);
      access.require('VIEW_CHANNEL');
      const target = access.channel;
      const privateCreator = target.type === ChannelType.PRIVATE_THREAD && target.owner?.id === actorId;
      if (!privateCreator) access.require('MANAGE_THREADS');
      else if (userId !== actorId) access.requireNotTimedOut('MANAGE_THREADS');
      assertNotArchived(target);
      const removed = await deleteMember(tx, threadId, userId);
      if (removed) target.threadMembersChanged([], [userId]);
      return removed;
    });
  }

  /** A thread's members, oldest first (VIEW_CHANNEL). */
  async threadMembers(viewer: IdArg, thread: IdArg): Promise<{ userId: string; joinedAt: Date }[]> {
    const viewerId = idArg(viewer, 'viewer');
    const threadId = idArg(thread, 'thread');
    const em = this.em.fork();
    const access = await loadThreadAccess(em, threadId, viewerId);
    access.require('VIEW_CHANNEL');
    const rows = await em.find(ThreadMember, { thread: threadId }, { orderBy: { joinedAt: 'asc', user: 'asc' } });
    return rows.map((m) => ({ userId: m.user.id, joinedAt: m.joinedAt }));
  }

  /** The unarchived threads of a server that the viewer can see. */
  async activeThreads(viewer: IdArg, server: IdArg): Promise<Channel[]> {
    return await activeThreads(this.em.fork(), idArg(viewer, 'viewer'), idArg(server, 'server'));
  }

  /** Archived threads of a channel, most recently archived first (see thread-listings). */
  async archivedThreads(viewer: IdArg, parent: IdArg, options: ArchivedThreadsOptions = {}): Promise<Channel[]> {
    return await archivedThreads(this.em.fork(), idArg(viewer, 'viewer'), idArg(parent, 'parent'), options);
  }

  private openThread(
    tx: EntityManager,
    access: ChannelAccess,
    type: ChannelType,
    fields: ReturnType<typeof newThreadFields>,
    id: string,
  ): Channel {
    const parent = access.channel;
    const creator = tx.getReference(User, access.userId);
    const thread = new Channel(access.server!.server, type, fields.name);
    thread.id = id;
    thread.parent = ref(parent);
    thread.owner = ref(creator);
    thread.nsfw = parent.nsfw;
    thread.autoArchiveDuration = fields.autoArchiveDuration;
    thread.rateLimitPerUser = fields.rateLimitPerUser;
    thread.archiveTimestamp = new Date();
    thread.memberCount = 1;
    tx.persist(thread);
    tx.persist(new ThreadMember(thread, creator));
    thread.threadCreated();
    thread.threadMembersChanged([access.userId], []);
    return thread;
  }
}
