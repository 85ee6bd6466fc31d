/**
 * Issue 16, rule 3: a custom emoji restricted to roles is usable, in reactions and in message content,
 * only by members who hold one of its roles (managed roles too). Refusals are EmojiRoleLocked and
 * write nothing.
 */
import { describe, expect, it } from 'vitest';
import { EmojiRoleLocked, NotFound } from '../src/domain/errors';
import { PermissionFlags as F } from '../src/domain/permissions';
import { customEmojiIn, mayUseEmoji } from '../src/domain/messages';
import { nextSnowflake } from '../src/domain/snowflake';
import { EmojiService } from '../src/servers/expression-service';
import { useTestDatabase } from './support/db';
import { messagingHelpers } from './support/messaging';

const db = useTestDatabase();
const h = messagingHelpers(db);
const emojis = () => new EmojiService(h.fork());

async function lockedWorld() {
  const w = await h.world('Emoji');
  const holder = await h.joined(w, 'holder');
  const outsider = await h.joined(w, 'outsider');
  const vip = await h.role(w.server.id, 0n, 2, [holder.id]);
  const locked = await emojis().createEmoji(w.owner, w.server.id, { name: 'vip_only', roles: [vip] });
  const open = await emojis().createEmoji(w.owner, w.server.id, { name: 'for_all' });
  const message = await h.messages().send(w.owner, w.textId, 'react here');
  return { w, holder, outsider, vip, locked, open, message };
}

const tag = (e: { id: string; name: string }, animated = false) => `<${animated ? 'a' : ''}:${e.name}:${e.id}>`;

describe('role-locked custom emoji in reactions', () => {
  it('only a holder of one of its roles may react with it, even when the reaction is already there', async () => {
    const { w, holder, outsider, locked, open, message } = await lockedWorld();
    await h.refused(() => h.reactions().react(outsider, message.id, tag(locked)), EmojiRoleLocked, {
      code: 'EMOJI_ROLE_LOCKED',
      emojiId: locked.id,
      field: 'emoji',
    });
    await h.refused(() => h.reactions().react(outsider, message.id, `${locked.name}:${locked.id}`), EmojiRoleLocked);
    expect(await h.reactions().react(holder, message.id, tag(locked))).toBe(true);
    await h.refused(() => h.reactions().react(outsider, message.id, tag(locked)), EmojiRoleLocked);
    // The owner is no exception: the roles are the whole rule.
    await h.refused(() => h.reactions().react(w.owner, message.id, tag(locked)), EmojiRoleLocked);
    // An emoji without roles is everyone's; an unknown one is still NotFound.
    expect(await h.reactions().react(outsider, message.id, tag(open))).toBe(true);
    await h.refused(() => h.reactions().react(outsider, message.id, `<:ghost:${nextSnowflake()}>`), NotFound);
  });

  it('managed roles follow the same rule, and the lock follows role changes', async () => {
    const w = await h.world('Managed');
    const subscriber = await h.joined(w, 'subscriber');
    const other = await h.joined(w, 'other');
    const managed = await h.role(w.server.id, 0n, 2, [subscriber.id]);
    await db().sql(`update "Role" set managed = true where id = $1`, [managed]);
    const emoji = await emojis().createEmoji(w.owner, w.server.id, { name: 'sub_hype', roles: [managed] });
    const message = await h.messages().send(w.owner, w.textId, 'hype');
    await h.refused(() => h.reactions().react(other, message.id, tag(emoji)), EmojiRoleLocked);
    expect(await h.reactions().react(subscriber, message.id, tag(emoji))).toBe(true);
    // Unlocked by an edit: everyone may use it.
    await emojis().updateEmoji(w.owner, w.server.id, emoji.id, { roles: [] });
    expect(await h.reactions().react(other, message.id, tag(emoji))).toBe(true);
  });

  it('an external emoji needs one of its roles in its own server', async () => {
    const a = await h.world('Home');
    const b = await h.world('Elsewhere');
    const both = await h.joined(a, 'both');
    await h.memberships().acceptInvite(both, b.code);
    const onlyA = await h.joined(a, 'onlyA');
    const role = await h.role(b.server.id, 0n, 2, [both.id]);
    const emoji = await emojis().createEmoji(b.owner, b.server.id, { name: 'elsewhere', roles: [role] });
    await h.everyonePermissions(
      a.server.id,
      F.VIEW_CHANNEL | F.READ_MESSAGE_HISTORY | F.SEND_MESSAGES | F.ADD_REACTIONS | F.USE_EXTERNAL_EMOJIS,
    );
    const message = await h.messages().send(a.owner, a.textId, 'far away');
    expect(await h.reactions().react(both, message.id, tag(emoji))).toBe(true);
    await h.refused(() => h.reactions().react(onlyA, message.id, tag(emoji)), EmojiRoleLocked);
    await h.refused(() => h.messages().send(onlyA, a.textId, `look ${tag(emoji)}`), EmojiRoleLocked, {
      field: 'content',
    });
    await h.messages().send(both, a.textId, `look ${tag(emoji)}`);
  });
});

describe('role-locked custom emoji in message content', () => {
  it('refuses a send or an edit that uses one the author may not use, naming it', async () => {
    const { w, holder, outsider, locked, open } = await lockedWorld();
    const failure = await h.refused(
      () => h.messages().send(outsider, w.textId, `hi ${tag(open)} ${tag(locked, true)}`),
      EmojiRoleLocked,
      {
        emojiId: locked.id,
        emojiName: 'vip_only',
        field: 'content',
      },
    );
    expect((failure as EmojiRoleLocked).toJSON()).toMatchObject({
      code: 'EMOJI_ROLE_LOCKED',
      details: { emojiId: locked.id },
    });
    await h.messages().send(holder, w.textId, `hi ${tag(locked)}`);
    await h.messages().send(outsider, w.textId, `hi ${tag(open)}`);
    const sent = await h.messages().send(outsider, w.textId, 'plain');
    await h.refused(() => h.messages().edit(outsider, sent.id, `now ${tag(locked)}`), EmojiRoleLocked);
    // In code, escaped, or with an id that is no emoji, it is text.
    await h
      .messages()
      .send(outsider, w.textId, `\`${tag(locked)}\` and \\${tag(locked)} and <:vip_only:${nextSnowflake()}>`);
  });
});

describe('the pure rules', () => {
  it('finds custom emoji outside code, deduplicated, with canonical ids', () => {
    expect(
      customEmojiIn('a <:ok_hand:0012> <a:dance:12> `<:x1:13>` \\<:y1:14> <:z:15> <:big:99999999999999999999>'),
    ).toEqual([{ id: '12', name: 'ok_hand' }]);
    expect(customEmojiIn('no emoji here')).toEqual([]);
  });

  it("an emoji without roles is everyone's; with roles, holders of one of them only", () => {
    expect(mayUseEmoji({ id: '1', name: 'a', roleIds: [] }, [])).toBe(true);
    expect(mayUseEmoji({ id: '1', name: 'a', roleIds: ['5', '6'] }, ['6'])).toBe(true);
    expect(mayUseEmoji({ id: '1', name: 'a', roleIds: ['5'] }, ['6'])).toBe(false);
  });
});
