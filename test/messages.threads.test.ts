import { describe, expect, it } from 'vitest';
import type { EntityManager } from '@mikro-orm/postgresql';
import {
  MissingPermission,
  NotAMember,
  NotAThread,
  NotFound,
  ThreadAlreadyExists,
  ThreadClosed,
  ValidationFailed,
} from '../src/domain/errors';
import { PermissionFlags as F } from '../src/domain/permissions';
import { snowflakeAt } from '../src/domain/snowflake';
import { Channel, ChannelType } from '../src/entities/channel/Channel';
import { ThreadMember } from '../src/entities/channel/ThreadMember';
import { archiveInactiveThreads, inactiveThreadCondition } from '../src/entities/channel/thread-archiver';
import { Message } from '../src/entities/message/Message';
import { race, rejected, useTestDatabase } from './support/db';
import { messagingHelpers, type MessagingWorld } from './support/messaging';
import { ChannelService } from '../src/servers/channel-service';

const db = useTestDatabase({ poolSize: 30 });
const h = messagingHelpers(db);
const threads = (em?: EntityManager) => h.threads(em);

interface ThreadRow {
  type: string;
  name: string;
  parentId: string;
  ownerId: string;
  messageCount: number;
  memberCount: number;
  archived: boolean;
  locked: boolean;
  autoArchiveDuration: number;
  lastMessageId: string | null;
  rows: number;
  messages: number;
}

async function row(id: string): Promise<ThreadRow> {
  const [found] = await db().sql<ThreadRow>(
    `select type, name, "parentId"::text, "ownerId"::text, "messageCount", "memberCount", archived, locked,
      "autoArchiveDuration", "lastMessageId"::text,
            (select count(*)::int from "ThreadMember" where "threadId" = c.id) as rows,
            (select count(*)::int from "Message" where "channelId" = c.id and type <> 'THREAD_STARTER') as messages
       from "Channel" c where id = $1`,
    [id],
  );
  return found;
}

const eventsFor = async (type: string, id: string) =>
  (await h.eventsOfType(type)).filter((e) => JSON.stringify(e.payload).includes(`"${id}"`));

/** A world with a member who may not moderate threads, and a moderator who may. */
async function threadWorld(): Promise<
  MessagingWorld & { bob: Awaited<ReturnType<typeof h.joined>>; mod: Awaited<ReturnType<typeof h.joined>> }
> {
  const w = await h.world();
  const bob = await h.joined(w, 'bob');
  const mod = await h.joined(w, 'mod');
  await h.role(w.server.id, F.MANAGE_THREADS, 1, [mod.id]);
  return { ...w, bob, mod };
}

describe('creating threads', () => {
  it('from a message: the thread takes its id, starts with a THREAD_STARTER, and its creator is its one member', async () => {
    const w = await threadWorld();
    const starter = await h.messages().send(w.owner, w.textId, 'let us talk');
    const thread = await threads().startThread(w.bob, starter.id, { name: 'talk' });
    expect(thread.id).toBe(starter.id);
    const found = await row(thread.id);
    expect(found).toMatchObject({
      type: 'PUBLIC_THREAD',
      name: 'talk',
      parentId: w.textId,
      ownerId: w.bob.id,
      messageCount: 0,
      memberCount: 1,
      rows: 1,
      messages: 0,
      autoArchiveDuration: 1440,
    });
    const [first] = await db().sql<{ type: string; replyToId: string; id: string }>(
      `select id::text, type, "replyToId"::text from "Message" where "channelId" = $1`,
      [thread.id],
    );
    expect(first).toMatchObject({ type: 'THREAD_STARTER', replyToId: starter.id });
    expect(found.lastMessageId).toBe(first.id);
    expect(
      await db().sql(`select 1 from "Message" where id = $1 and "channelId" = $2`, [starter.id, w.textId]),
    ).toHaveLength(1);
    expect((await eventsFor('THREAD_CREATE', thread.id))[0].payload).toMatchObject({
      newlyCreated: true,
      thread: { id: thread.id, type: 'PUBLIC_THREAD', parentId: w.textId, memberCount: 1 },
    });
    expect((await eventsFor('THREAD_MEMBERS_UPDATE', thread.id))[0].payload).toMatchObject({
      id: thread.id,
      addedMemberIds: [w.bob.id],
      removedMemberIds: [],
    });
    // No THREAD_CREATED notice for a thread started from a message.
    expect(
      await db().sql(`select 1 from "Message" where "channelId" = $1 and type = 'THREAD_CREATED'`, [w.textId]),
    ).toHaveLength(0);
  });

  it('a message starts at most one thread, also when many try at once', async () => {
    const w = await threadWorld();
    const starter = await h.messages().send(w.owner, w.textId, 'one thread');
    await threads().startThread(w.bob, starter.id, { name: 'first' });
    await h.refused(() => threads().startThread(w.owner, starter.id, { name: 'second' }), ThreadAlreadyExists, {
      messageId: starter.id,
    });

    const contested = await h.messages().send(w.owner, w.textId, 'contested');
    const results = await race(db(), 8, (em, i) =>
      threads(em).startThread(i % 2 ? w.bob : w.owner, contested.id, { name: `t${i}` }),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const errors = rejected(results);
    expect(errors).toHaveLength(7);
    for (const e of errors) expect(e).toBeInstanceOf(ThreadAlreadyExists);
    expect(await row(contested.id)).toMatchObject({ memberCount: 1, rows: 1 });
    expect(await eventsFor('THREAD_CREATE', contested.id)).toHaveLength(1);
  });

  it('standalone: public threads post a THREAD_CREATED notice in the parent, private threads do not', async () => {
    const w = await threadWorld();
    const open = await threads().createThread(w.bob, w.textId, { name: 'open', autoArchiveDuration: 60 });
    expect(await row(open.id)).toMatchObject({
      type: 'PUBLIC_THREAD',
      memberCount: 1,
      rows: 1,
      autoArchiveDuration: 60,
      lastMessageId: null,
    });
    const notices = await db().sql<{ id: string; content: string; authorId: string }>(
      `select id::text, content, "authorId"::text from "Message" where "channelId" = $1 and type = 'THREAD_CREATED'`,
      [w.textId],
    );
    expect(notices).toEqual([{ id: notices[0].id, content: 'open', authorId: w.bob.id }]);
    expect(await h.lastMessageId(w.textId)).toBe(notices[0].id);

    const secret = await threads().createThread(w.bob, w.textId, { name: 'secret', type: 'PRIVATE_THREAD' });
    expect(await row(secret.id)).toMatchObject({ type: 'PRIVATE_THREAD', memberCount: 1 });
    expect(
      await db().sql(`select 1 from "Message" where "channelId" = $1 and type = 'THREAD_CREATED'`, [w.textId]),
    ).toHaveLength(1);
  });

  it('announcement channels hold announcement threads only; other channels none', async () => {
    const w = await threadWorld();
    const news = await h.channel(w.server.id, { type: 'GUILD_ANNOUNCEMENT' });
    const post = await h.messages().send(w.owner, news, 'news');
    expect((await threads().startThread(w.bob, post.id, { name: 'comments' })).type).toBe(
      ChannelType.ANNOUNCEMENT_THREAD,
    );
    expect((await threads().createThread(w.bob, news, { name: 'loose' })).type).toBe(ChannelType.ANNOUNCEMENT_THREAD);
    await h.refused(() => threads().createThread(w.bob, news, { name: 'x', type: 'PUBLIC_THREAD' }), ValidationFailed, {
      field: 'type',
    });
    await h.refused(
      () => threads().createThread(w.bob, news, { name: 'x', type: 'PRIVATE_THREAD' }),
      ValidationFailed,
      { field: 'type' },
    );
    await h.refused(
      () => threads().createThread(w.bob, w.textId, { name: 'x', type: 'ANNOUNCEMENT_THREAD' }),
      ValidationFailed,
      { field: 'type' },
    );
    await h.refused(
      () => threads().createThread(w.bob, w.textId, { name: 'x', type: 'GUILD_TEXT' as never }),
      ValidationFailed,
      { field: 'type' },
    );
    for (const type of ['GUILD_VOICE', 'GUILD_CATEGORY', 'GUILD_FORUM']) {
      const other = await h.channel(w.server.id, { type });
      await h.refused(() => threads().createThread(w.owner, other, { name: 'x' }), ValidationFailed, {
        field: 'parent',
      });
    }
    const thread = await threads().createThread(w.bob, w.textId, { name: 'no nesting' });
    await h.refused(() => threads().createThread(w.owner, thread.id, { name: 'x' }), ValidationFailed, {
      field: 'parent',
    });
  });

  it('private threads cannot start from a message, nor can system messages start threads', async () => {
    const w = await threadWorld();
    const starter = await h.messages().send(w.owner, w.textId, 'hello');
    await h.refused(
      () => threads().startThread(w.bob, starter.id, { name: 'x', type: 'PRIVATE_THREAD' }),
      ValidationFailed,
      { field: 'type' },
    );
    await threads().createThread(w.bob, w.textId, { name: 'makes a notice' });
    const [notice] = await db().sql<{ id: string }>(
      `select id::text from "Message" where "channelId" = $1 and type = 'THREAD_CREATED'`,
      [w.textId],
    );
    await h.refused(() => threads().startThread(w.bob, notice.id, { name: 'x' }), ValidationFailed, {
      field: 'message',
    });
    await h.refused(() => threads().startThread(w.bob, '123456789', { name: 'x' }), NotFound);
  });

  it('needs CREATE_PUBLIC_THREADS or CREATE_PRIVATE_THREADS, VIEW_CHANNEL, and READ_MESSAGE_HISTORY from a message', async () => {
    const w = await threadWorld();
    const starter = await h.messages().send(w.owner, w.textId, 'hello');
    await h.overwrite(w.textId, w.bob.id, 'MEMBER', 0n, F.CREATE_PUBLIC_THREADS);
    await h.refused(() => threads().createThread(w.bob, w.textId, { name: 'x' }), MissingPermission, {
      permission: 'CREATE_PUBLIC_THREADS',
    });
    await h.refused(() => threads().startThread(w.bob, starter.id, { name: 'x' }), MissingPermission, {
      permission: 'CREATE_PUBLIC_THREADS',
    });
    expect(
      (await threads().createThread(w.bob, w.textId, { name: 'private is fine', type: 'PRIVATE_THREAD' })).type,
    ).toBe('PRIVATE_THREAD');

    await h.overwrite(w.textId, w.bob.id, 'MEMBER', 0n, F.CREATE_PRIVATE_THREADS);
    await h.refused(
      () => threads().createThread(w.bob, w.textId, { name: 'x', type: 'PRIVATE_THREAD' }),
      MissingPermission,
      { permission: 'CREATE_PRIVATE_THREADS' },
    );
    await threads().createThread(w.bob, w.textId, { name: 'public is fine' });

    await h.overwrite(w.textId, w.bob.id, 'MEMBER', 0n, F.READ_MESSAGE_HISTORY);
    await h.refused(() => threads().startThread(w.bob, starter.id, { name: 'x' }), MissingPermission, {
      permission: 'READ_MESSAGE_HISTORY',
    });
    await threads().createThread(w.bob, w.textId, { name: 'standalone needs no history' });

    await h.overwrite(w.textId, w.bob.id, 'MEMBER', 0n, F.VIEW_CHANNEL);
    await h.refused(() => threads().createThread(w.bob, w.textId, { name: 'x' }), MissingPermission, {
      permission: 'VIEW_CHANNEL',
    });
    const stranger = await h.register('stranger');
    await h.refused(() => threads().createThread(stranger, w.textId, { name: 'x' }), NotAMember);
  });

  it('takes names of 1-100 characters and auto-archive durations of 60, 1440, 4320 or 10080 minutes', async () => {
    const w = await threadWorld();
    expect((await threads().createThread(w.bob, w.textId, { name: 'n'.repeat(100) })).name).toBe('n'.repeat(100));
    expect((await threads().createThread(w.bob, w.textId, { name: 'a' })).name).toBe('a');
    for (const name of ['n'.repeat(101), '', '   ', 42]) {
      await h.refused(() => threads().createThread(w.bob, w.textId, { name: name as string }), ValidationFailed, {
        field: 'name',
      });
    }
    for (const minutes of [60, 1440, 4320, 10080]) {
      const thread = await threads().createThread(w.bob, w.textId, {
        name: `d${minutes}`,
        autoArchiveDuration: minutes,
      });
      expect((await row(thread.id)).autoArchiveDuration).toBe(minutes);
    }
    for (const minutes of [0, 59, 61, 1441, 10081, -60, 60.5, '60', null]) {
      await h.refused(
        () => threads().createThread(w.bob, w.textId, { name: 'x', autoArchiveDuration: minutes as number }),
        ValidationFailed,
        { field: 'autoArchiveDuration' },
      );
    }
    await h.refused(
      () => threads().createThread(w.bob, w.textId, { name: 'x', rateLimitPerUser: 21601 }),
      ValidationFailed,
      { field: 'rateLimitPerUser' },
    );
    expect(
      (await threads().createThread(w.bob, w.textId, { name: 'slow', rateLimitPerUser: 21600 })).rateLimitPerUser,
    ).toBe(21600);
    await h.refused(() => threads().createThread(w.bob, w.textId, null as never), ValidationFailed);

    const thread = await threads().createThread(w.bob, w.textId, { name: 'changes' });
    for (const minutes of [60, 4320, 10080, 1440]) {
      await threads().updateThread(w.bob, thread.id, { autoArchiveDuration: minutes });
      expect((await row(thread.id)).autoArchiveDuration).toBe(minutes);
    }
    for (const minutes of [0, 61]) {
      await h.refused(
        () => threads().updateThread(w.bob, thread.id, { autoArchiveDuration: minutes }),
        ValidationFailed,
        { field: 'autoArchiveDuration' },
      );
    }
    await h.refused(() => threads().updateThread(w.bob, thread.id, { name: 'n'.repeat(101) }), ValidationFailed, {
      field: 'name',
    });
    await h.refused(() => threads().updateThread(w.bob, thread.id, { archived: 'yes' as never }), ValidationFailed, {
      field: 'archived',
    });
  });
});

describe('archiving on inactivity', () => {
  /** A standalone thread whose clock is set: created (and last unarchived) at `at`, no messages. */
  async function idleThread(w: MessagingWorld, minutes: number, at: Date): Promise<string> {
    const thread = await threads().createThread(w.owner, w.textId, {
      name: `idle${minutes}`,
      autoArchiveDuration: minutes,
    });
    await db().sql(`update "Channel" set "createdAt" = $2, "archiveTimestamp" = $2 where id = $1`, [thread.id, at]);
    return thread.id;
  }
  const plus = (at: Date, minutes: number) => new Date(at.getTime() + minutes * 60_000);
  const archive = (now: Date) => archiveInactiveThreads(h.fork(), now);

  it('archives each duration one minute after it runs out, not one minute before, once', async () => {
    const w = await threadWorld();
    const t0 = new Date('2025-03-01T00:00:00Z');
    const ids = new Map<number, string>();
    for (const minutes of [60, 1440, 4320, 10080]) ids.set(minutes, await idleThread(w, minutes, t0));
    for (const minutes of [60, 1440, 4320, 10080]) {
      const id = ids.get(minutes)!;
      expect(await archive(plus(t0, minutes - 1))).toEqual([]);
      expect((await row(id)).archived).toBe(false);
      expect(await archive(plus(t0, minutes + 1))).toEqual([id]);
      expect((await row(id)).archived).toBe(true);
      const [updated] = await eventsFor('THREAD_UPDATE', id);
      expect(updated.payload).toMatchObject({ thread: { id, threadMetadata: { archived: true } } });
    }
    // Running again archives nothing and announces nothing twice.
    expect(await archive(plus(t0, 20_000))).toEqual([]);
    for (const id of ids.values()) expect(await eventsFor('THREAD_UPDATE', id)).toHaveLength(1);
    // A thread archived by the archiver wakes on the next send.
    await h.refused(() => threads().joinThread(w.bob, ids.get(60)!), ThreadClosed, { state: 'archived' });
    await h.messages().send(w.bob, ids.get(60)!, 'wake up');
    expect(await row(ids.get(60)!)).toMatchObject({ archived: false, messageCount: 1, memberCount: 2, rows: 2 });
  });

  it('counts the last message and the last unarchiving as activity; exactly the duration is inactive enough', async () => {
    const w = await threadWorld();
    const t0 = new Date('2025-04-01T00:00:00Z');
    const byMessage = await idleThread(w, 60, t0);
    await db().sql(`update "Channel" set "lastMessageId" = $2 where id = $1`, [byMessage, snowflakeAt(plus(t0, 30))]);
    const byUnarchive = await idleThread(w, 60, t0);
    await db().sql(`update "Channel" set "archiveTimestamp" = $2 where id = $1`, [byUnarchive, plus(t0, 45)]);
    const exact = await idleThread(w, 60, t0);
    expect(await archive(plus(t0, 60))).toEqual([exact]);
    expect(await archive(plus(t0, 89))).toEqual([]);
    expect(await archive(plus(t0, 91))).toEqual([byMessage]);
    expect(await archive(plus(t0, 104))).toEqual([]);
    expect(await archive(plus(t0, 106))).toEqual([byUnarchive]);
    // Threads with real, recent activity are untouched by a run far in their past.
    const fresh = await threads().createThread(w.owner, w.textId, { name: 'fresh', autoArchiveDuration: 60 });
    expect(await archive(plus(new Date(), 59))).not.toContain(fresh.id);
    expect(await archive(plus(new Date(), 61))).toContain(fresh.id);
  });

  it('can find its threads through the active-threads partial index', async () => {
    await db().sql('begin');
    try {
      await db().sql('set local enable_seqscan = off');
      const plan = await db().sql<{ 'QUERY PLAN': string }>(
        `explain update "Channel" set "archived" = true where ${inactiveThreadCondition('now()')}`,
      );
      expect(plan.map((line) => line['QUERY PLAN']).join('\n')).toContain('Channel_active_threads_index');
    } finally {
      await db().sql('rollback');
    }
  });

  it('two archivers at once archive each thread once', async () => {
    const w = await threadWorld();
    const t0 = new Date('2025-05-01T00:00:00Z');
    const ids = await Promise.all(Array.from({ length: 6 }, () => idleThread(w, 60, t0)));
    const results = await race(db(), 4, (em) => archiveInactiveThreads(em, plus(t0, 61)));
    const archived = results.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
    expect(archived.sort()).toEqual([...ids].sort());
    for (const id of ids) expect(await eventsFor('THREAD_UPDATE', id)).toHaveLength(1);
  });
});

describe('changing and deleting threads', () => {
  it('the creator renames and archives; others need MANAGE_THREADS; anyone who may send unarchives an unlocked thread', async () => {
    const w = await threadWorld();
    const carol = await h.joined(w, 'carol');
    const thread = await threads().createThread(w.bob, w.textId, { name: 'bobs' });
    await h.refused(() => threads().updateThread(carol, thread.id, { name: 'carols' }), MissingPermission, {
      permission: 'MANAGE_THREADS',
    });
    await h.refused(() => threads().updateThread(carol, thread.id, { archived: true }), MissingPermission, {
      permission: 'MANAGE_THREADS',
    });
    await h.refused(() => threads().updateThread(carol, thread.id, { autoArchiveDuration: 60 }), MissingPermission, {
      permission: 'MANAGE_THREADS',
    });
    await h.refused(() => threads().updateThread(w.bob, thread.id, { locked: true }), MissingPermission, {
      permission: 'MANAGE_THREADS',
    });
    await h.refused(() => threads().updateThread(w.bob, thread.id, { rateLimitPerUser: 10 }), MissingPermission, {
      permission: 'MANAGE_THREADS',
    });

    await threads().updateThread(w.bob, thread.id, { name: 'renamed' });
    await threads().updateThread(w.bob, thread.id, { archived: true });
    expect(await row(thread.id)).toMatchObject({ name: 'renamed', archived: true });
    // Archived: nothing changes unless the same patch unarchives.
    await h.refused(() => threads().updateThread(w.bob, thread.id, { name: 'while archived' }), ThreadClosed, {
      state: 'archived',
    });
    await h.refused(() => threads().updateThread(w.mod, thread.id, { rateLimitPerUser: 5 }), ThreadClosed, {
      state: 'archived',
    });
    await threads().updateThread(carol, thread.id, { archived: false });
    expect((await row(thread.id)).archived).toBe(false);
    await threads().updateThread(w.bob, thread.id, { archived: true });
    await threads().updateThread(w.bob, thread.id, { archived: false, name: 'back' });
    expect(await row(thread.id)).toMatchObject({ name: 'back', archived: false });

    await threads().updateThread(w.mod, thread.id, { name: 'modded', rateLimitPerUser: 10, autoArchiveDuration: 4320 });
    expect(await row(thread.id)).toMatchObject({ name: 'modded', autoArchiveDuration: 4320 });
    const events = await eventsFor('THREAD_UPDATE', thread.id);
    expect(events.at(-1)!.payload).toMatchObject({ thread: { name: 'modded', rateLimitPerUser: 10 } });

    // A patch that changes nothing writes nothing.
    const before = await h.counts();
    await threads().updateThread(w.mod, thread.id, { name: 'modded', archived: false });
    expect(await h.counts()).toEqual(before);
    await h.refused(() => threads().updateThread(w.mod, w.textId, { name: 'x' }), NotAThread);
  });

  it('locked threads refuse sends from members, take them from moderators, and only moderators unarchive them', async () => {
    const w = await threadWorld();
    const thread = await threads().createThread(w.bob, w.textId, { name: 'lockable' });
    await h.messages().send(w.bob, thread.id, 'before the lock');
    await threads().updateThread(w.mod, thread.id, { locked: true });
    await h.refused(() => h.messages().send(w.bob, thread.id, 'x'), ThreadClosed, { state: 'locked' });
    await h.messages().send(w.mod, thread.id, 'moderators may');
    expect(await row(thread.id)).toMatchObject({ locked: true, messageCount: 2, memberCount: 2 });

    await threads().updateThread(w.mod, thread.id, { archived: true });
    await h.refused(() => threads().updateThread(w.bob, thread.id, { archived: false }), MissingPermission, {
      permission: 'MANAGE_THREADS',
    });
    await h.refused(() => h.messages().send(w.bob, thread.id, 'x'), ThreadClosed, { state: 'locked' });
    await threads().updateThread(w.mod, thread.id, { archived: false, locked: false });
    await h.messages().send(w.bob, thread.id, 'open again');
    expect(await row(thread.id)).toMatchObject({ locked: false, archived: false, messageCount: 3 });
  });

  it('sending into an archived, unlocked thread unarchives it', async () => {
    const w = await threadWorld();
    const thread = await threads().createThread(w.owner, w.textId, { name: 'sleepy' });
    await threads().updateThread(w.owner, thread.id, { archived: true });
    await h.messages().send(w.bob, thread.id, 'wake');
    expect(await row(thread.id)).toMatchObject({ archived: false, messageCount: 1, memberCount: 2, rows: 2 });
    expect((await eventsFor('THREAD_UPDATE', thread.id)).at(-1)!.payload).toMatchObject({
      thread: { archived: false },
    });
  });

  it('deleting needs MANAGE_THREADS, even for the creator; the starter message stays in the parent', async () => {
    const w = await threadWorld();
    const starter = await h.messages().send(w.owner, w.textId, 'starter');
    const thread = await threads().startThread(w.bob, starter.id, { name: 'doomed' });
    await h.messages().send(w.bob, thread.id, 'inside');
    await h.refused(() => threads().deleteThread(w.bob, thread.id), MissingPermission, {
      permission: 'MANAGE_THREADS',
    });
    await threads().deleteThread(w.mod, thread.id);
    expect(await db().sql(`select 1 from "Channel" where id = $1`, [thread.id])).toHaveLength(0);
    expect(await db().sql(`select 1 from "ThreadMember" where "threadId" = $1`, [thread.id])).toHaveLength(0);
    expect(await db().sql(`select 1 from "Message" where "channelId" = $1`, [thread.id])).toHaveLength(0);
    expect(
      await db().sql(`select 1 from "Message" where id = $1 and "channelId" = $2`, [starter.id, w.textId]),
    ).toHaveLength(1);
    expect((await eventsFor('THREAD_DELETE', thread.id))[0].payload).toEqual({
      id: thread.id,
      serverId: w.server.id,
      parentId: w.textId,
      type: 'PUBLIC_THREAD',
    });
    await h.refused(() => threads().deleteThread(w.mod, thread.id), NotFound);
    // The message is free to start a new thread.
    expect((await threads().startThread(w.bob, starter.id, { name: 'again' })).id).toBe(starter.id);
  });
});

describe('permissions inside threads', () => {
  it('SEND_MESSAGES_IN_THREADS, not SEND_MESSAGES, governs posting in a thread', async () => {
    const w = await threadWorld();
    const carol = await h.joined(w, 'carol');
    const thread = await threads().createThread(w.owner, w.textId, { name: 'talk' });
    await h.overwrite(w.textId, w.bob.id, 'MEMBER', 0n, F.SEND_MESSAGES);
    await h.refused(() => h.messages().send(w.bob, w.textId, 'x'), MissingPermission, { permission: 'SEND_MESSAGES' });
    expect(await h.messages().send(w.bob, thread.id, 'threads still work')).toBeInstanceOf(Message);

    await h.overwrite(w.textId, carol.id, 'MEMBER', 0n, F.SEND_MESSAGES_IN_THREADS);
    expect(await h.messages().send(carol, w.textId, 'the parent still works')).toBeInstanceOf(Message);
    await h.refused(() => h.messages().send(carol, thread.id, 'x'), MissingPermission, {
      permission: 'SEND_MESSAGES_IN_THREADS',
    });
    // Joining needs only sight; adding others needs the right to send.
    expect(await threads().joinThread(carol, thread.id)).toBe(true);
    await h.refused(() => threads().addThreadMember(carol, thread.id, w.mod), MissingPermission, {
      permission: 'SEND_MESSAGES_IN_THREADS',
    });
    // The parent's overwrites govern the thread.
    await h.overwrite(w.textId, w.bob.id, 'MEMBER', 0n, F.VIEW_CHANNEL);
    await h.refused(() => h.messages().send(w.bob, thread.id, 'x'), MissingPermission, { permission: 'VIEW_CHANNEL' });
  });

  it('private threads are seen by their members and by MANAGE_THREADS only', async () => {
    const w = await threadWorld();
    const carol = await h.joined(w, 'carol');
    const dave = await h.joined(w, 'dave');
    const secret = await threads().createThread(w.bob, w.textId, { name: 'secret', type: 'PRIVATE_THREAD' });
    await h.refused(() => h.messages().send(carol, secret.id, 'x'), MissingPermission, { permission: 'VIEW_CHANNEL' });
    await h.refused(() => threads().joinThread(carol, secret.id), MissingPermission, { permission: 'VIEW_CHANNEL' });
    await h.refused(() => threads().addThreadMember(carol, secret.id, dave), MissingPermission, {
      permission: 'VIEW_CHANNEL',
    });
    await h.refused(() => threads().threadMembers(carol, secret.id), MissingPermission, { permission: 'VIEW_CHANNEL' });

    // A member adds another; the added member sees it and may add in turn.
    expect(await threads().addThreadMember(w.bob, secret.id, carol)).toBe(true);
    expect(await threads().addThreadMember(w.bob, secret.id, carol)).toBe(false);
    expect(await h.messages().send(carol, secret.id, 'thanks')).toBeInstanceOf(Message);
    expect(await threads().addThreadMember(carol, secret.id, dave)).toBe(true);
    expect((await threads().threadMembers(dave, secret.id)).map((m) => m.userId).sort()).toEqual(
      [w.bob.id, carol.id, dave.id].sort(),
    );
    expect(await row(secret.id)).toMatchObject({ memberCount: 3, rows: 3, messageCount: 1 });
    expect((await eventsFor('THREAD_MEMBERS_UPDATE', secret.id)).map((e) => e.payload.addedMemberIds)).toEqual([
      [w.bob.id],
      [carol.id],
      [dave.id],
    ]);

    // Moderators see it without joining, and may join.
    expect(await h.messages().send(w.mod, secret.id, 'moderating')).toBeInstanceOf(Message);
    expect(await row(secret.id)).toMatchObject({ memberCount: 4, rows: 4 });

    // Who cannot see the parent cannot be added; strangers neither.
    const erin = await h.joined(w, 'erin');
    await h.overwrite(w.textId, erin.id, 'MEMBER', 0n, F.VIEW_CHANNEL);
    await h.refused(() => threads().addThreadMember(w.bob, secret.id, erin), MissingPermission, {
      permission: 'VIEW_CHANNEL',
      details: { userId: erin.id },
    });
    const stranger = await h.register('stranger');
    await h.refused(() => threads().addThreadMember(w.bob, secret.id, stranger), NotAMember);

    // Leaving a private thread takes it out of sight.
    expect(await threads().leaveThread(dave, secret.id)).toBe(true);
    await h.refused(() => h.messages().send(dave, secret.id, 'x'), MissingPermission, { permission: 'VIEW_CHANNEL' });
  });

  it('removing members: MANAGE_THREADS, or the creator of a private thread', async () => {
    const w = await threadWorld();
    const carol = await h.joined(w, 'carol');
    const open = await threads().createThread(w.bob, w.textId, { name: 'open' });
    await threads().joinThread(carol, open.id);
    await h.refused(() => threads().removeThreadMember(w.bob, open.id, carol), MissingPermission, {
      permission: 'MANAGE_THREADS',
    });
    expect(await threads().removeThreadMember(w.mod, open.id, carol)).toBe(true);
    expect(await row(open.id)).toMatchObject({ memberCount: 1, rows: 1 });
    const before = await h.counts();
    expect(await threads().removeThreadMember(w.mod, open.id, carol)).toBe(false);
    expect(await h.counts()).toEqual(before);

    const secret = await threads().createThread(w.bob, w.textId, { name: 'secret', type: 'PRIVATE_THREAD' });
    await threads().addThreadMember(w.bob, secret.id, carol);
    await h.refused(() => threads().removeThreadMember(carol, secret.id, w.bob), MissingPermission, {
      permission: 'MANAGE_THREADS',
    });
    expect(await threads().removeThreadMember(w.bob, secret.id, carol)).toBe(true);
    expect((await eventsFor('THREAD_MEMBERS_UPDATE', secret.id)).at(-1)!.payload).toMatchObject({
      addedMemberIds: [],
      removedMemberIds: [carol.id],
    });
    expect(await row(secret.id)).toMatchObject({ memberCount: 1, rows: 1 });
  });
});

describe('membership and counters', () => {
  it('joins and leaves change rows and memberCount together; repeats write nothing; archived threads refuse both', async () => {
    const w = await threadWorld();
    const thread = await threads().createThread(w.owner, w.textId, { name: 'club' });
    expect(await threads().joinThread(w.bob, thread.id)).toBe(true);
    expect(await row(thread.id)).toMatchObject({ memberCount: 2, rows: 2 });
    let before = await h.counts();
    expect(await threads().joinThread(w.bob, thread.id)).toBe(false);
    expect(await h.counts()).toEqual(before);
    expect(await threads().leaveThread(w.bob, thread.id)).toBe(true);
    expect(await row(thread.id)).toMatchObject({ memberCount: 1, rows: 1 });
    before = await h.counts();
    expect(await threads().leaveThread(w.bob, thread.id)).toBe(false);
    expect(await h.counts()).toEqual(before);
    expect(
      (await eventsFor('THREAD_MEMBERS_UPDATE', thread.id)).map((e) => [
        e.payload.addedMemberIds,
        e.payload.removedMemberIds,
      ]),
    ).toEqual([
      [[w.owner.id], []],
      [[w.bob.id], []],
      [[], [w.bob.id]],
    ]);

    await threads().updateThread(w.owner, thread.id, { archived: true });
    await h.refused(() => threads().joinThread(w.bob, thread.id), ThreadClosed, { state: 'archived' });
    await h.refused(() => threads().leaveThread(w.owner, thread.id), ThreadClosed, { state: 'archived' });
    await h.refused(() => threads().addThreadMember(w.owner, thread.id, w.bob), ThreadClosed, { state: 'archived' });
    await h.refused(() => threads().joinThread(w.bob, w.textId), NotAThread);
    const stranger = await h.register('stranger');
    await h.refused(() => threads().joinThread(stranger, thread.id), NotAMember);
  });

  it('first sends join, later sends only count, deletes lower messageCount', async () => {
    const w = await threadWorld();
    const starter = await h.messages().send(w.owner, w.textId, 'start');
    const thread = await threads().startThread(w.owner, starter.id, { name: 'count' });
    const a = await h.messages().send(w.bob, thread.id, 'one');
    await h.messages().send(w.bob, thread.id, 'two');
    await h.messages().send(w.mod, thread.id, 'three');
    expect(await row(thread.id)).toMatchObject({ messageCount: 3, messages: 3, memberCount: 3, rows: 3 });
    await h.messages().deleteMessage(w.bob, a.id);
    expect(await row(thread.id)).toMatchObject({ messageCount: 2, messages: 2, memberCount: 3 });
  });

  it('memberCount equals the ThreadMember rows after 50 members concurrently send first messages, join and leave', async () => {
    const w = await threadWorld();
    const users = await Promise.all(Array.from({ length: 50 }, (_, i) => h.joined(w, `racer${i}_`)));
    const thread = await threads().createThread(w.owner, w.textId, { name: 'race', autoArchiveDuration: 60 });
    for (const user of users.slice(0, 25)) await threads().joinThread(user, thread.id);

    // Each member sends, leaves and joins at once: the same (thread, user) row is fought over.
    const results = await race(db(), 150, (em, i): Promise<unknown> => {
      const user = users[i % 50];
      if (i < 50) return h.messages(em).send(user, thread.id, `m${i}`);
      return i < 100 ? threads(em).leaveThread(user, thread.id) : threads(em).joinThread(user, thread.id);
    });
    expect(rejected(results)).toEqual([]);
    const found = await row(thread.id);
    expect(found.memberCount).toBe(found.rows);
    expect(found.messageCount).toBe(50);
    expect(found.messages).toBe(50);
    // The events tell the same story as the rows.
    const events = await eventsFor('THREAD_MEMBERS_UPDATE', thread.id);
    const net = events.reduce(
      (n, e) => n + (e.payload.addedMemberIds as string[]).length - (e.payload.removedMemberIds as string[]).length,
      0,
    );
    expect(net).toBe(found.rows);
    const members = await h.fork().find(ThreadMember, { thread: thread.id });
    expect(members).toHaveLength(found.rows);
  });
});

describe('listing threads', () => {
  it('active threads: what the viewer can see; archived threads: newest archived first, private to members and MANAGE_THREADS', async () => {
    const w = await threadWorld();
    const carol = await h.joined(w, 'carol');
    const open = await threads().createThread(w.bob, w.textId, { name: 'open' });
    const secret = await threads().createThread(w.bob, w.textId, { name: 'secret', type: 'PRIVATE_THREAD' });
    const closed = await threads().createThread(w.bob, w.textId, { name: 'closed' });
    await threads().updateThread(w.bob, closed.id, { archived: true });
    const ids = (list: Channel[]) => list.map((c) => c.id);
    expect(ids(await threads().activeThreads(carol, w.server.id))).toEqual([open.id]);
    expect(ids(await threads().activeThreads(w.bob, w.server.id))).toEqual([secret.id, open.id]);
    expect(ids(await threads().activeThreads(w.mod, w.server.id))).toEqual([secret.id, open.id]);
    await expect(threads().activeThreads(await h.register('stranger'), w.server.id)).rejects.toBeInstanceOf(NotAMember);

    await threads().updateThread(w.bob, secret.id, { archived: true });
    await threads().updateThread(w.bob, open.id, { archived: true });
    expect(ids(await threads().archivedThreads(carol, w.textId))).toEqual([open.id, closed.id]);
    expect(ids(await threads().archivedThreads(w.bob, w.textId))).toEqual([open.id, secret.id, closed.id]);
    expect(ids(await threads().archivedThreads(w.mod, w.textId, { limit: 2 }))).toEqual([open.id, secret.id]);
    const [{ at }] = await db().sql<{ at: Date }>(`select "archiveTimestamp" as at from "Channel" where id = $1`, [
      secret.id,
    ]);
    expect(ids(await threads().archivedThreads(w.mod, w.textId, { before: at }))).toEqual([closed.id]);
    expect(await threads().archivedThreads(w.mod, w.textId, { limit: 100 })).toHaveLength(3);
    for (const limit of [0, 101, 1.5])
      await expect(threads().archivedThreads(w.mod, w.textId, { limit })).rejects.toBeInstanceOf(ValidationFailed);
    await h.overwrite(w.textId, carol.id, 'MEMBER', 0n, F.READ_MESSAGE_HISTORY);
    await expect(threads().archivedThreads(carol, w.textId)).rejects.toMatchObject({
      permission: 'READ_MESSAGE_HISTORY',
    });
    expect(ids(await threads().activeThreads(carol, w.server.id))).toEqual([]);
  });
});

describe('threads and their surroundings', () => {
  it('die with their parent channel, and are neither listed nor managed as server channels', async () => {
    const w = await threadWorld();
    const room = (
      await new ChannelService(h.fork()).createChannel(w.owner, w.server.id, {
        type: ChannelType.GUILD_TEXT,
        name: 'room',
      })
    ).id;
    const thread = await threads().createThread(w.bob, room, { name: 'side talk' });
    await h.messages().send(w.bob, thread.id, 'in the thread');
    const channels = new ChannelService(h.fork());
    expect((await h.fork().getRepository(Channel).channelsOf(w.server.id)).map((c) => c.id)).not.toContain(thread.id);
    await expect(channels.deleteChannel(w.owner, w.server.id, thread.id)).rejects.toBeInstanceOf(ValidationFailed);
    await channels.deleteChannel(w.owner, w.server.id, room);
    expect(await db().sql(`select id from "Channel" where id = $1`, [thread.id])).toEqual([]);
    expect(await db().sql(`select id from "Message" where "channelId" = $1`, [thread.id])).toEqual([]);
    expect((await eventsFor('THREAD_DELETE', thread.id)).length).toBe(1);
    await expect(h.messages().send(w.bob, thread.id, 'gone')).rejects.toBeInstanceOf(NotFound);
  });

  it('lose a member who leaves, is kicked or banned from the server', async () => {
    const w = await threadWorld();
    const thread = await threads().createThread(w.owner, w.textId, { name: 'crowd' });
    const carol = await h.joined(w, 'carol');
    for (const user of [w.bob, w.mod, carol]) await h.messages().send(user, thread.id, 'here');
    expect((await row(thread.id)).memberCount).toBe(4);
    await h.memberships().leave(carol, w.server.id);
    await h.memberships().kick(w.owner, w.server.id, w.bob);
    await h.memberships().ban(w.owner, w.server.id, w.mod, { reason: 'spam' });
    const after = await row(thread.id);
    expect(after.memberCount).toBe(1);
    expect(after.rows).toBe(1);
  });
});
