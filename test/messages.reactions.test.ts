import { describe, expect, it } from 'vitest';
import { LimitReached, MissingPermission, NotFound, ValidationFailed } from '../src/domain/errors';
import { PermissionFlags as F } from '../src/domain/permissions';
import { nextSnowflake } from '../src/domain/snowflake';
import { fulfilled, race, rejected, useTestDatabase } from './support/db';
import { messagingHelpers } from './support/messaging';

const db = useTestDatabase({ poolSize: 30 });
const h = messagingHelpers(db);

/** 30 distinct Unicode emoji. */
const EMOJI = [...'😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙😚🙂🤗🤩🤔🤨😐😑😶🙄😏😣😥'];

const distinct = async (messageId: string) =>
  (
    await db().sql<{ n: number }>(
      `select count(distinct "emojiKey")::int as n from "Reaction" where "messageId" = $1`,
      [messageId],
    )
  )[0].n;

async function emoji(serverId: string): Promise<string> {
  const id = nextSnowflake();
  await db().sql(`insert into "Emoji" (id, "serverId", name) values ($1, $2, 'blob')`, [id, serverId]);
  return id;
}

describe('reactions', () => {
  it('adds once per user and emoji, counts per emoji, and records the events', async () => {
    const w = await h.world();
    const [bob, carol] = [await h.joined(w, 'bob'), await h.joined(w, 'carol')];
    const m = await h.messages().send(bob, w.textId, 'react to me');
    expect(await m.react(bob, '👍')).toBe(true);
    expect(await h.reactions().react(bob, m.id, '👍')).toBe(false);
    expect(await h.reactions().react(carol, m.id, '👍')).toBe(true);
    expect(await h.reactions().react(carol, m.id, '🎉')).toBe(true);
    const counts = await h.reactionQueries().countsFor([m.id], carol.id);
    expect(counts.get(m.id)).toEqual([
      { emoji: { id: null, name: '👍', animated: false }, count: 2, me: true },
      { emoji: { id: null, name: '🎉', animated: false }, count: 1, me: true },
    ]);
    expect(await h.reactions().unreact(carol, m.id, '👍')).toBe(true);
    expect(await h.reactions().unreact(carol, m.id, '👍')).toBe(false);
    expect((await h.eventsOfType('MESSAGE_REACTION_ADD')).length).toBe(3);
    expect((await h.eventsOfType('MESSAGE_REACTION_REMOVE')).at(-1)!.payload).toMatchObject({
      userId: carol.id,
      messageId: m.id,
      emoji: { name: '👍' },
    });
  });

  it('needs READ_MESSAGE_HISTORY, and ADD_REACTIONS only for an emoji not on the message yet', async () => {
    const w = await h.world();
    const [bob, quiet] = [await h.joined(w, 'bob'), await h.joined(w, 'quiet')];
    const m = await h.messages().send(bob, w.textId, 'hi');
    await h.reactions().react(bob, m.id, '👍');
    await h.overwrite(w.textId, quiet.id, 'MEMBER', 0n, F.ADD_REACTIONS);
    await h.refused(() => h.reactions().react(quiet, m.id, '🎉'), MissingPermission, {
      details: { permissions: ['ADD_REACTIONS'] },
    });
    expect(await h.reactions().react(quiet, m.id, '👍')).toBe(true);
    await h.overwrite(w.textId, quiet.id, 'MEMBER', 0n, F.READ_MESSAGE_HISTORY);
    await h.refused(() => h.reactions().react(quiet, m.id, '👍'), MissingPermission, {
      details: { permissions: ['READ_MESSAGE_HISTORY'] },
    });
    await h.refused(() => h.reactions().react(bob, m.id, 'abc'), ValidationFailed, { field: 'emoji' });
    await h.refused(() => h.reactions().react(bob, nextSnowflake(), '👍'), NotFound);
  });

  it('needs USE_EXTERNAL_EMOJIS for a custom emoji of another server', async () => {
    const w = await h.world();
    const other = await h.world('Other');
    const bob = await h.joined(w, 'bob');
    const m = await h.messages().send(bob, w.textId, 'hi');
    const local = await emoji(w.server.id);
    const foreign = await emoji(other.server.id);
    expect(await h.reactions().react(bob, m.id, `<:blob:${local}>`)).toBe(true);
    await h.overwrite(w.textId, bob.id, 'MEMBER', 0n, F.USE_EXTERNAL_EMOJIS);
    await h.refused(() => h.reactions().react(bob, m.id, `blob:${foreign}`), MissingPermission, {
      details: { permissions: ['USE_EXTERNAL_EMOJIS'] },
    });
    expect(await h.reactions().react(w.owner, m.id, `blob:${foreign}`)).toBe(true);
    await h.refused(() => h.reactions().react(bob, m.id, `blob:${nextSnowflake()}`), NotFound);
  });

  it('holds 20 distinct emoji: the 20th is taken, the 21st refused, an existing one still welcome', async () => {
    const w = await h.world();
    const bob = await h.joined(w, 'bob');
    const m = await h.messages().send(bob, w.textId, 'hi');
    for (const e of EMOJI.slice(0, 20)) await h.reactions().react(bob, m.id, e);
    expect(await distinct(m.id)).toBe(20);
    await h.refused(() => h.reactions().react(w.owner, m.id, EMOJI[20]), LimitReached, {
      limit: 'uniqueReactionsPerMessage',
      max: 20,
    });
    expect(await h.reactions().react(w.owner, m.id, EMOJI[0])).toBe(true);
  });

  it('50 users reacting with 30 distinct emoji at once leave at most 20 distinct emoji', async () => {
    const w = await h.world();
    const users = await Promise.all(Array.from({ length: 50 }, () => h.joined(w)));
    const m = await h.messages().send(users[0], w.textId, 'contested');
    const results = await race(db(), 150, (em, i) => h.reactions(em).react(users[i % 50], m.id, EMOJI[i % 30]));
    expect(await distinct(m.id)).toBe(20);
    expect(rejected(results).every((e) => e instanceof LimitReached)).toBe(true);
    const [{ n }] = await db().sql<{ n: number }>(`select count(*)::int as n from "Reaction" where "messageId" = $1`, [
      m.id,
    ]);
    expect(n).toBe(fulfilled(results).filter(Boolean).length);
  });

  it("removes others' reactions and all reactions only with MANAGE_MESSAGES", async () => {
    const w = await h.world();
    const [bob, carol] = [await h.joined(w, 'bob'), await h.joined(w, 'carol')];
    const m = await h.messages().send(bob, w.textId, 'hi');
    await h.reactions().react(bob, m.id, '👍');
    await h.reactions().react(carol, m.id, '👍');
    await h.reactions().react(carol, m.id, '🎉');
    await h.refused(() => h.reactions().removeReaction(carol, m.id, bob, '👍'), MissingPermission);
    await h.refused(() => h.reactions().removeAllReactions(carol, m.id), MissingPermission);
    expect(await h.reactions().removeReaction(w.owner, m.id, bob, '👍')).toBe(true);
    expect(await h.reactions().removeAllReactions(w.owner, m.id, '🎉')).toBe(1);
    expect(await h.reactions().removeAllReactions(w.owner, m.id)).toBe(1);
    expect(await distinct(m.id)).toBe(0);
    expect((await h.eventsOfType('MESSAGE_REACTION_REMOVE_ALL')).length).toBe(2);
  });
});
