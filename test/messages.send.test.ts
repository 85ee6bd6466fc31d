import { describe, expect, it } from 'vitest';
import {
  LimitReached,
  MissingPermission,
  NotAMember,
  NotATextChannel,
  NotFound,
  NotMessageAuthor,
  SlowmodeActive,
  ValidationFailed,
} from '../src/domain/errors';
import { DEFAULT_EVERYONE_PERMISSIONS, PermissionFlags as F } from '../src/domain/permissions';
import { Channel } from '../src/entities/channel/Channel';
import { Message, MessageType } from '../src/entities/message/Message';
import { fulfilled, race, rejected, useTestDatabase } from './support/db';
import { messagingHelpers } from './support/messaging';

const db = useTestDatabase({ poolSize: 30 });
const h = messagingHelpers(db);

const attachment = (i = 0) => ({
  filename: `f${i}.png`,
  size: 10,
  contentType: 'image/png',
  url: `https://cdn.example/${i}.png`,
  width: 1,
  height: 1,
});
const embed = (i = 0) => ({ title: `t${i}` });
const mentionCount = async (userId: string, channelId: string) =>
  (
    await db().sql<{ n: number }>(
      `select "mentionCount" as n from "ReadState" where "userId" = $1 and "channelId" = $2`,
      [userId, channelId],
    )
  )[0]?.n ?? 0;

describe('sending', () => {
  it('writes the message, moves lastMessageId and records MESSAGE_CREATE in one unit of work', async () => {
    const w = await h.world();
    const bob = await h.joined(w, 'bob');
    const channel = await h.fork().findOneOrFail(Channel, w.textId);
    const message = await channel.send(bob, 'hello world');
    const [row] = await db().sql<Record<string, unknown>>(
      `select content, type, "authorId"::text, "serverId"::text, "hasLink" from "Message" where id = $1`,
      [message.id],
    );
    expect(row).toEqual({
      content: 'hello world',
      type: 'DEFAULT',
      authorId: bob.id,
      serverId: w.server.id,
      hasLink: false,
    });
    expect(await h.lastMessageId(w.textId)).toBe(message.id);
    expect(message.createdAt.getTime()).toBeLessThanOrEqual(Date.now());
    const events = await h.eventsOfType('MESSAGE_CREATE');
    expect(events.at(-1)!.payload).toMatchObject({
      message: { id: message.id, content: 'hello world', authorId: bob.id },
    });
  });

  it('keeps lastMessageId at the newest of many concurrent sends', async () => {
    const w = await h.world();
    const users = await Promise.all(Array.from({ length: 10 }, () => h.joined(w)));
    const sent = fulfilled(await race(db(), 20, (em, i) => h.messages(em).send(users[i % 10], w.textId, `m${i}`)));
    expect(sent).toHaveLength(20);
    const newest = sent.map((m) => BigInt(m.id)).reduce((a, b) => (a > b ? a : b));
    expect(await h.lastMessageId(w.textId)).toBe(newest.toString());
  });

  it('needs VIEW_CHANNEL and SEND_MESSAGES; timeouts, strangers and non-text channels are refused', async () => {
    const w = await h.world();
    const bob = await h.joined(w, 'bob');
    const hidden = await h.channel(w.server.id);
    await h.overwrite(hidden, w.server.id, 'ROLE', 0n, F.VIEW_CHANNEL);
    await h.refused(() => h.messages().send(bob, hidden, 'x'), MissingPermission, {
      details: { permissions: ['VIEW_CHANNEL', 'SEND_MESSAGES'] },
    });
    const readOnly = await h.channel(w.server.id);
    await h.overwrite(readOnly, bob.id, 'MEMBER', 0n, F.SEND_MESSAGES);
    await h.refused(() => h.messages().send(bob, readOnly, 'x'), MissingPermission, {
      details: { permissions: ['SEND_MESSAGES'] },
    });
    await db().sql(`update "ServerMember" set "timedOutUntil" = now() + interval '1 hour' where "userId" = $1`, [
      bob.id,
    ]);
    await h.refused(() => h.messages().send(bob, w.textId, 'x'), MissingPermission);
    await db().sql(`update "ServerMember" set "timedOutUntil" = now() - interval '1 second' where "userId" = $1`, [
      bob.id,
    ]);
    await expect(h.messages().send(bob, w.textId, 'back')).resolves.toBeInstanceOf(Message);

    const stranger = await h.register('stranger');
    await h.refused(() => h.messages().send(stranger, w.textId, 'x'), NotAMember);
    const category = await h.channel(w.server.id, { type: 'GUILD_CATEGORY' });
    await h.refused(() => h.messages().send(w.owner, category, 'x'), NotATextChannel);
    await h.refused(() => h.messages().send(w.owner, '123456789', 'x'), NotFound);
    await h.refused(() => h.messages().send(w.owner, 'not-an-id', 'x'), ValidationFailed);
  });

  it('takes content of 1-2000 characters, 4000 for NITRO, empty only with attachments or embeds', async () => {
    const w = await h.world();
    const bob = await h.joined(w, 'bob');
    await expect(h.messages().send(bob, w.textId, 'x'.repeat(2000))).resolves.toBeInstanceOf(Message);
    await h.refused(() => h.messages().send(bob, w.textId, 'x'.repeat(2001)), ValidationFailed, { field: 'content' });
    await h.refused(() => h.messages().send(bob, w.textId, ''), ValidationFailed, { field: 'content' });
    await h.refused(() => h.messages().send(bob, w.textId, '   '), ValidationFailed, { field: 'content' });
    await h.refused(() => h.messages().send(bob, w.textId, 42), ValidationFailed, { field: 'content' });
    await expect(h.messages().send(bob, w.textId, '', { attachments: [attachment()] })).resolves.toBeInstanceOf(
      Message,
    );
    await expect(h.messages().send(bob, w.textId, '', { embeds: [embed()] })).resolves.toBeInstanceOf(Message);
    await db().sql(`update "User" set "premiumType" = 'NITRO' where id = $1`, [bob.id]);
    await expect(h.messages().send(bob, w.textId, 'y'.repeat(4000))).resolves.toBeInstanceOf(Message);
    await h.refused(() => h.messages().send(bob, w.textId, 'y'.repeat(4001)), ValidationFailed, { field: 'content' });
  });

  it('takes 10 attachments and 10 embeds, refuses 11, and needs ATTACH_FILES and EMBED_LINKS', async () => {
    const w = await h.world();
    const bob = await h.joined(w, 'bob');
    const ten = await h.messages().send(bob, w.textId, 'files', {
      attachments: Array.from({ length: 10 }, (_, i) => attachment(i)),
      embeds: Array.from({ length: 10 }, (_, i) => embed(i)),
    });
    const [row] = await db().sql<{ a: number; e: number; ac: number; ec: number }>(
      `select (select count(*)::int from "MessageAttachment" where "messageId" = $1) as a, (select count(*)::int
        from "MessageEmbed" where "messageId" = $1) as e,
              "attachmentCount" as ac, "embedCount" as ec from "Message" where id = $1`,
      [ten.id],
    );
    expect(row).toEqual({ a: 10, e: 10, ac: 10, ec: 10 });
    await h.refused(
      () => h.messages().send(bob, w.textId, 'x', { attachments: Array.from({ length: 11 }, (_, i) => attachment(i)) }),
      LimitReached,
    );
    await h.refused(
      () => h.messages().send(bob, w.textId, 'x', { embeds: Array.from({ length: 11 }, (_, i) => embed(i)) }),
      LimitReached,
    );
    await h.refused(
      () => h.messages().send(bob, w.textId, 'x', { embeds: [{ title: 't'.repeat(257) }] }),
      ValidationFailed,
    );

    const noFiles = await h.channel(w.server.id);
    await h.overwrite(noFiles, w.server.id, 'ROLE', 0n, F.ATTACH_FILES | F.EMBED_LINKS);
    await h.refused(() => h.messages().send(bob, noFiles, 'x', { attachments: [attachment()] }), MissingPermission, {
      details: { permissions: ['ATTACH_FILES'] },
    });
    await h.refused(() => h.messages().send(bob, noFiles, 'x', { embeds: [embed()] }), MissingPermission, {
      details: { permissions: ['EMBED_LINKS'] },
    });
    await expect(h.messages().send(bob, noFiles, 'plain text is fine')).resolves.toBeInstanceOf(Message);
  });

  it('pings @everyone only with MENTION_EVERYONE, and only members who can view the channel', async () => {
    const w = await h.world();
    const [bob, carol, dave] = [await h.joined(w, 'bob'), await h.joined(w, 'carol'), await h.joined(w, 'dave')];
    const room = await h.channel(w.server.id);
    await h.overwrite(room, dave.id, 'MEMBER', 0n, F.VIEW_CHANNEL);
    const plain = await h.messages().send(bob, room, 'hey @everyone');
    expect(plain.mentionEveryone).toBe(false);
    expect(await mentionCount(carol.id, room)).toBe(0);

    const pinged = await h.messages().send(w.owner, room, 'hey @everyone');
    expect(pinged.mentionEveryone).toBe(true);
    expect(await mentionCount(bob.id, room)).toBe(1);
    expect(await mentionCount(carol.id, room)).toBe(1);
    expect(await mentionCount(dave.id, room)).toBe(0);
    expect(await mentionCount(w.owner.id, room)).toBe(0);
  });

  it('pings users who are members, and roles that are mentionable (any role with MENTION_EVERYONE)', async () => {
    const w = await h.world();
    const [bob, carol, dave] = [await h.joined(w, 'bob'), await h.joined(w, 'carol'), await h.joined(w, 'dave')];
    const stranger = await h.register('stranger');
    const open = await h.role(w.server.id, 0n, 1, [carol.id], true);
    const closed = await h.role(w.server.id, 0n, 2, [dave.id], false);
    const m = await h.messages().send(bob, w.textId, `<@${carol.id}> <@${stranger.id}> <@&${open}> <@&${closed}>`);
    expect(m.mentionUserIds).toEqual([carol.id]);
    expect(m.mentionRoleIds).toEqual([open]);
    expect(await mentionCount(carol.id, w.textId)).toBe(1);
    expect(await mentionCount(dave.id, w.textId)).toBe(0);
    const byOwner = await h.messages().send(w.owner, w.textId, `<@&${closed}>`);
    expect(byOwner.mentionRoleIds).toEqual([closed]);
    expect(await mentionCount(dave.id, w.textId)).toBe(1);
  });

  it('does not ping a timed-out member who lost VIEW_CHANNEL, and pings one whose timeout keeps it', async () => {
    // Found by the soak: timed-out candidates came back from raw SQL with their timeout as text.
    const w = await h.world();
    const [bob, carol] = [await h.joined(w, 'bob'), await h.joined(w, 'carol')];
    await db().sql(`update "ServerMember" set "timedOutUntil" = now() + interval '1 hour' where "userId" = $1`, [
      carol.id,
    ]);
    const hidden = await h.channel(w.server.id);
    await h.overwrite(hidden, carol.id, 'MEMBER', 0n, F.VIEW_CHANNEL);
    await h.messages().send(bob, w.textId, `<@${carol.id}> you are timed out but can read`);
    await h.messages().send(bob, hidden, `<@${carol.id}> you cannot see this`);
    expect(await mentionCount(carol.id, w.textId)).toBe(1);
    expect(await mentionCount(carol.id, hidden)).toBe(0);
    const summary = await h.readStates().unreadSummary(carol);
    expect(summary.servers.find((s) => s.serverId === w.server.id)).toMatchObject({ mentionCount: 1 });
    expect(summary.channels.map((c) => c.channelId)).not.toContain(hidden);
  });

  it('counts every mention of concurrent sends (atomic upsert)', async () => {
    const w = await h.world();
    const bob = await h.joined(w, 'bob');
    const senders = await Promise.all(Array.from({ length: 10 }, () => h.joined(w)));
    const results = await race(db(), 40, (em, i) =>
      h.messages(em).send(senders[i % 10], w.textId, `<@${bob.id}> ${i}`),
    );
    expect(fulfilled(results)).toHaveLength(40);
    expect(await mentionCount(bob.id, w.textId)).toBe(40);
  });

  it('replies within the channel only, with READ_MESSAGE_HISTORY, pinging the replied author', async () => {
    const w = await h.world();
    const bob = await h.joined(w, 'bob');
    const original = await h.messages().send(w.owner, w.textId, 'question');
    const reply = await h.messages().send(bob, w.textId, 'answer', { replyTo: original.id });
    expect(reply.type).toBe(MessageType.REPLY);
    expect(reply.replyTo?.id).toBe(original.id);
    expect(await mentionCount(w.owner.id, w.textId)).toBe(1);
    const silent = await h
      .messages()
      .send(bob, w.textId, 'answer', { replyTo: original.id, mentionRepliedUser: false });
    expect(silent.mentionUserIds).toEqual([]);
    const other = await h.channel(w.server.id);
    const elsewhere = await h.messages().send(w.owner, other, 'elsewhere');
    await h.refused(() => h.messages().send(bob, w.textId, 'x', { replyTo: elsewhere.id }), ValidationFailed, {
      field: 'replyTo',
    });
    await h.refused(() => h.messages().send(bob, w.textId, 'x', { replyTo: '123456' }), ValidationFailed, {
      field: 'replyTo',
    });
    await h.overwrite(w.textId, bob.id, 'MEMBER', 0n, F.READ_MESSAGE_HISTORY);
    await h.refused(() => h.messages().send(bob, w.textId, 'x', { replyTo: original.id }), MissingPermission, {
      details: { permissions: ['READ_MESSAGE_HISTORY'] },
    });
  });
});

describe('slowmode', () => {
  it('holds a member to one message per window, and MANAGE_MESSAGES, MANAGE_CHANNELS or BYPASS_SLOWMODE bypass it', async () => {
    const w = await h.world();
    const [bob, mod, bypass] = [await h.joined(w, 'bob'), await h.joined(w, 'mod'), await h.joined(w, 'bypass')];
    await h.role(w.server.id, F.MANAGE_MESSAGES, 1, [mod.id]);
    await h.role(w.server.id, F.BYPASS_SLOWMODE, 2, [bypass.id]);
    const slow = await h.channel(w.server.id, { rateLimitPerUser: 30 });
    await h.messages().send(bob, slow, 'first');
    const failure = (await h.refused(() => h.messages().send(bob, slow, 'second'), SlowmodeActive)) as SlowmodeActive;
    expect(failure.retryAfterMs).toBeGreaterThan(28_000);
    expect(failure.retryAfterMs).toBeLessThanOrEqual(30_000);
    for (const user of [mod, bypass, w.owner]) {
      await h.messages().send(user, slow, 'one');
      await h.messages().send(user, slow, 'two');
    }
    // The window passed: the next message goes through.
    await db().sql(`update "ReadState" set "lastSentAt" = now() - interval '30 seconds' where "userId" = $1`, [bob.id]);
    await expect(h.messages().send(bob, slow, 'later')).resolves.toBeInstanceOf(Message);
  });

  it('lets exactly one of many concurrent sends of one member through', async () => {
    const w = await h.world();
    const bob = await h.joined(w, 'bob');
    const slow = await h.channel(w.server.id, { rateLimitPerUser: 60 });
    const results = await race(db(), 20, (em, i) => h.messages(em).send(bob, slow, `burst ${i}`));
    expect(fulfilled(results)).toHaveLength(1);
    expect(rejected(results).every((e) => e instanceof SlowmodeActive)).toBe(true);
    const [{ n }] = await db().sql<{ n: number }>(`select count(*)::int as n from "Message" where "channelId" = $1`, [
      slow,
    ]);
    expect(n).toBe(1);
  });
});

describe('editing', () => {
  it('lets only the author edit; sets editedAt and re-parses mentions', async () => {
    const w = await h.world();
    const [bob, carol] = [await h.joined(w, 'bob'), await h.joined(w, 'carol')];
    const m = await h.messages().send(bob, w.textId, 'hi');
    expect(m.editedAt).toBeNull();
    const edited = await h.messages().edit(bob, m.id, `hi <@${carol.id}>`);
    expect(edited.editedAt).toBeInstanceOf(Date);
    expect(edited.mentionUserIds).toEqual([carol.id]);
    const [row] = await db().sql<{ content: string; ids: string[] }>(
      `select content, "mentionUserIds"::text[] as ids from "Message" where id = $1`,
      [m.id],
    );
    expect(row).toEqual({ content: `hi <@${carol.id}>`, ids: [carol.id] });
    expect((await h.eventsOfType('MESSAGE_UPDATE')).at(-1)!.payload).toMatchObject({
      message: { id: m.id, content: `hi <@${carol.id}>` },
    });
    await h.refused(() => h.messages().edit(carol, m.id, 'mine now'), NotMessageAuthor);
    await h.refused(() => h.messages().edit(w.owner, m.id, 'owner neither'), NotMessageAuthor);
    await h.refused(() => h.messages().edit(bob, m.id, 'x'.repeat(2001)), ValidationFailed);
    await h.refused(() => h.messages().edit(bob, m.id, ''), ValidationFailed);
    await h.refused(() => h.messages().edit(bob, '999', 'x'), NotFound);
  });

  it('lets an edit empty the content of a message with an attachment', async () => {
    const w = await h.world();
    const bob = await h.joined(w, 'bob');
    const m = await h.messages().send(bob, w.textId, 'caption', { attachments: [attachment()] });
    await expect(h.messages().edit(bob, m.id, '')).resolves.toMatchObject({ content: '' });
  });

  it('keeps default permissions as Discord has them (sanity of the world)', () => {
    expect(DEFAULT_EVERYONE_PERMISSIONS & F.SEND_MESSAGES).toBe(F.SEND_MESSAGES);
    expect(DEFAULT_EVERYONE_PERMISSIONS & F.MENTION_EVERYONE).toBe(0n);
  });
});
