import { describe, expect, it } from 'vitest';
import { useTestDatabase } from './support/db';
import { messagingHelpers } from './support/messaging';

const db = useTestDatabase();
const h = messagingHelpers(db);

describe('smoke', () => {
  it('sends, reacts, pins, deletes', async () => {
    const w = await h.world();
    const bob = await h.joined(w, 'bob');
    const m = await h.messages().send(bob, w.textId, 'hello <@' + w.owner.id + '> http://x.y', { embeds: [{ title: 'x' }] as never });
    expect(m.id).toBeTruthy();
    expect(await h.lastMessageId(w.textId)).toBe(m.id);
    expect(await h.reactions().react(w.owner, m.id, '👍')).toBe(true);
    expect(await h.reactions().react(w.owner, m.id, '👍')).toBe(false);
    await h.messages().pin(w.owner, m.id);
    const pins = await h.messages().pins(bob, w.textId);
    expect(pins.map((p) => p.id)).toEqual([m.id]);
    await h.messages().edit(bob, m.id, 'edited');
    await h.messages().deleteMessage(w.owner, m.id);
    console.log(await h.counts(), await db().sql('select * from "ReadState"'));
  });
});
