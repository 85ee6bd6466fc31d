import { describe, expect, it } from 'vitest';
import { MissingPermission, NotFound } from '../src/domain/errors';
import { PermissionFlags as F } from '../src/domain/permissions';
import { Channel } from '../src/entities/channel/Channel';
import { fulfilled, race, useTestDatabase } from './support/db';
import { messagingHelpers } from './support/messaging';

const db = useTestDatabase({ poolSize: 30 });
const h = messagingHelpers(db);

const state = async (userId: string, channelId: string) =>
  (
    await db().sql<{ lastRead: string | null; mentions: number }>(
      `select "lastReadMessageId"::text as "lastRead", "mentionCount" as mentions from "ReadState" where "userId" = $1
        and "channelId" = $2`,
      [userId, channelId],
    )
  )[0];

describe('read states', () => {
  it('ack sets lastReadMessageId and recounts the mentions after it', async () => {
    const w = await h.world();
    const [bob, carol] = [await h.joined(w, 'bob'), await h.joined(w, 'carol')];
    const m1 = await h.messages().send(carol, w.textId, `<@${bob.id}> one`);
    const m2 = await h.messages().send(carol, w.textId, `<@${bob.id}> two`);
    await h.messages().send(carol, w.textId, 'no ping');
    expect(await state(bob.id, w.textId)).toEqual({ lastRead: null, mentions: 2 });
    const channel = await h.fork().findOneOrFail(Channel, w.textId);
    await channel.ack(bob, m1.id);
    expect(await state(bob.id, w.textId)).toEqual({ lastRead: m1.id, mentions: 1 });
    await h.readStates().ack(bob, w.textId, m2.id);
    expect(await state(bob.id, w.textId)).toEqual({ lastRead: m2.id, mentions: 0 });
    const other = await h.channel(w.server.id);
    const elsewhere = await h.messages().send(carol, other, 'x');
    await h.refused(() => h.readStates().ack(bob, w.textId, elsewhere.id), NotFound);
    await h.overwrite(other, bob.id, 'MEMBER', 0n, F.VIEW_CHANNEL);
    await h.refused(() => h.readStates().ack(bob, other, elsewhere.id), MissingPermission);
  });

  it('never loses a mention to an ack racing the sends', async () => {
    const w = await h.world();
    const bob = await h.joined(w, 'bob');
    const senders = await Promise.all(Array.from({ length: 10 }, () => h.joined(w)));
    const first = await h.messages().send(senders[0], w.textId, 'start');
    const results = await race<unknown>(db(), 31, (em, i) =>
      i === 30
        ? h.readStates(em).ack(bob, w.textId, first.id)
        : h.messages(em).send(senders[i % 10], w.textId, `<@${bob.id}> ${i}`),
    );
    expect(fulfilled(results)).toHaveLength(31);
    // Every ping sent after `first` is unread, whichever order the ack and the sends committed in.
    expect((await state(bob.id, w.textId)).mentions).toBe(30);
  });

  it('summarises unread channels and mentions across servers in one query, counting only viewable channels', async () => {
    const a = await h.world('Alpha');
    const b = await h.world('Beta');
    const bob = await h.joined(a, 'bob');
    await h.memberships().acceptInvite(bob, b.code);
    const hidden = await h.channel(a.server.id);
    await h.overwrite(hidden, a.server.id, 'ROLE', 0n, F.VIEW_CHANNEL);
    await h.messages().send(a.owner, a.textId, `<@${bob.id}> hi`);
    await h.messages().send(a.owner, hidden, `<@${bob.id}> secret`);
    await h.messages().send(b.owner, b.textId, 'news');
    const own = await h.messages().send(bob, b.textId, 'my own message is not unread for me');

    const summary = await h.readStates().unreadSummary(bob);
    const byServer = Object.fromEntries(summary.servers.map((s) => [s.serverId, s]));
    expect(byServer[a.server.id]).toEqual({ serverId: a.server.id, unreadChannels: 1, mentionCount: 1 });
    expect(byServer[b.server.id]).toEqual({ serverId: b.server.id, unreadChannels: 0, mentionCount: 0 });
    expect(summary.channels.find((c) => c.channelId === hidden)).toBeUndefined();
    expect(summary.channels.find((c) => c.channelId === b.textId)).toMatchObject({
      lastMessageId: own.id,
      unread: false,
    });

    const lastA = await h.lastMessageId(a.textId);
    await h.readStates().ack(bob, a.textId, lastA!);
    const after = await h.readStates().unreadSummary(bob);
    expect(after.servers.find((s) => s.serverId === a.server.id)).toEqual({
      serverId: a.server.id,
      unreadChannels: 0,
      mentionCount: 0,
    });
  });
});
