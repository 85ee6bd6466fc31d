import { describe, expect, it } from 'vitest';
import { LimitReached, MissingPermission, NotFound, ValidationFailed } from '../src/domain/errors';
import { PermissionFlags as F } from '../src/domain/permissions';
import { nextSnowflake, snowflakeAt } from '../src/domain/snowflake';
import { fulfilled, race, rejected, useTestDatabase } from './support/db';
import { messagingHelpers } from './support/messaging';

const db = useTestDatabase({ poolSize: 30 });
const h = messagingHelpers(db);

const audit = (serverId: string, action: number) =>
  db().sql<{ actorId: string; targetId: string; changes: { key: string; new: unknown }[]; reason: string | null }>(
    `select "actorId"::text, "targetId"::text, changes, reason from "AuditLogEntry" where "serverId" = $1
      and "actionType" = $2 order by id`,
    [serverId, action],
  );

/** `n` messages by `authorId` inserted directly (fast), ids ascending; `pinned` marks them pinned. */
async function insertMessages(
  channelId: string,
  serverId: string,
  authorId: string,
  n: number,
  options: { pinned?: boolean; at?: Date } = {},
): Promise<string[]> {
  const ids: string[] = [];
  const base = options.at ? BigInt(snowflakeAt(options.at)) : null;
  for (let i = 0; i < n; i++) ids.push(base === null ? nextSnowflake() : (base + BigInt(i)).toString());
  await db().sql(
    `insert into "Message" (id, "channelId", "serverId", "authorId", content, pinned) select unnest($1::bigint[]), $2,
      $3, $4, 'filler', $5`,
    [ids, channelId, serverId, authorId, options.pinned ?? false],
  );
  return ids;
}

describe('deleting', () => {
  it('lets the author delete without an audit entry, and moves lastMessageId back', async () => {
    const w = await h.world();
    const bob = await h.joined(w, 'bob');
    const first = await h.messages().send(bob, w.textId, 'first');
    const second = await h.messages().send(bob, w.textId, 'second');
    await h.messages().deleteMessage(bob, second.id);
    expect(await h.lastMessageId(w.textId)).toBe(first.id);
    expect(await audit(w.server.id, 72)).toEqual([]);
    expect((await h.eventsOfType('MESSAGE_DELETE')).at(-1)!.payload).toEqual({
      id: second.id,
      channelId: w.textId,
      serverId: w.server.id,
    });
    await h.messages().deleteMessage(bob, first.id);
    expect(await h.lastMessageId(w.textId)).toBeNull();
  });

  it("needs MANAGE_MESSAGES for someone else's message, and audits it as MESSAGE_DELETE (72)", async () => {
    const w = await h.world();
    const [bob, carol, mod] = [await h.joined(w, 'bob'), await h.joined(w, 'carol'), await h.joined(w, 'mod')];
    await h.role(w.server.id, F.MANAGE_MESSAGES, 1, [mod.id]);
    const m = await h.messages().send(bob, w.textId, 'spam');
    await h.refused(() => h.messages().deleteMessage(carol, m.id), MissingPermission, {
      details: { permissions: ['MANAGE_MESSAGES'] },
    });
    await h.messages().deleteMessage(mod, m.id, { reason: 'spam' });
    expect(await audit(w.server.id, 72)).toEqual([
      {
        actorId: mod.id,
        targetId: bob.id,
        changes: [
          { key: 'channelId', new: w.textId },
          { key: 'count', new: 1 },
        ],
        reason: 'spam',
      },
    ]);
    await h.refused(() => h.messages().deleteMessage(mod, m.id), NotFound);
  });

  it('cascades attachments, embeds and reactions, and unlinks replies', async () => {
    const w = await h.world();
    const bob = await h.joined(w, 'bob');
    const m = await h.messages().send(bob, w.textId, 'x', {
      attachments: [
        { filename: 'a', size: 1, contentType: 'text/plain', url: 'https://x.y/a', width: null, height: null },
      ],
      embeds: [{ title: 'e' }],
    });
    await h.reactions().react(w.owner, m.id, '🔥');
    const reply = await h.messages().send(w.owner, w.textId, 'reply', { replyTo: m.id });
    await h.messages().deleteMessage(bob, m.id);
    const [row] = await db().sql<Record<string, number>>(
      `select (select count(*)::int from "MessageAttachment") a, (select count(*)::int from "MessageEmbed") e,
        (select count(*)::int from "Reaction") r`,
    );
    expect(row).toEqual({ a: 0, e: 0, r: 0 });
    const [{ replyToId }] = await db().sql<{ replyToId: string | null }>(
      `select "replyToId" from "Message" where id = $1`,
      [reply.id],
    );
    expect(replyToId).toBeNull();
  });
});

describe('bulk delete', () => {
  it('deletes 2-100 messages younger than 14 days with MANAGE_MESSAGES, audited as 73', async () => {
    const w = await h.world();
    const bob = await h.joined(w, 'bob');
    const ids = await insertMessages(w.textId, w.server.id, bob.id, 101);
    await db().sql(`update "Channel" set "lastMessageId" = $2 where id = $1`, [w.textId, ids[100]]);
    await h.refused(() => h.messages().bulkDelete(w.owner, w.textId, ids.slice(0, 1)), ValidationFailed);
    await h.refused(() => h.messages().bulkDelete(w.owner, w.textId, ids), LimitReached);
    await h.refused(() => h.messages().bulkDelete(bob, w.textId, ids.slice(0, 2)), MissingPermission);
    await h.refused(() => h.messages().bulkDelete(w.owner, w.textId, [ids[0], nextSnowflake()]), NotFound);
    expect(await h.messages().bulkDelete(w.owner, w.textId, ids.slice(0, 2), { reason: 'cleanup' })).toBe(2);
    expect(await h.messages().bulkDelete(w.owner, w.textId, ids.slice(1, 101).slice(1))).toBe(99);
    expect(await h.lastMessageId(w.textId)).toBeNull();
    expect((await audit(w.server.id, 73)).map((a) => a.changes)).toEqual([
      [{ key: 'count', new: 2 }],
      [{ key: 'count', new: 99 }],
    ]);
    expect((await h.eventsOfType('MESSAGE_DELETE_BULK')).at(-1)!.payload).toMatchObject({ channelId: w.textId });
  });

  it('refuses a message older than 14 days, and any id twice', async () => {
    const w = await h.world();
    const old = await insertMessages(w.textId, w.server.id, w.owner.id, 1, {
      at: new Date(Date.now() - 14 * 86_400_000 - 60_000),
    });
    const fresh = await insertMessages(w.textId, w.server.id, w.owner.id, 1);
    await h.refused(() => h.messages().bulkDelete(w.owner, w.textId, [old[0], fresh[0]]), ValidationFailed);
    await h.refused(() => h.messages().bulkDelete(w.owner, w.textId, [fresh[0], fresh[0]]), ValidationFailed);
  });
});

describe('pins', () => {
  it('pins with PIN_MESSAGES or MANAGE_MESSAGES, posts the notice, audits 74 and 75', async () => {
    const w = await h.world();
    const [bob, pinner] = [await h.joined(w, 'bob'), await h.joined(w, 'pinner')];
    await h.role(w.server.id, F.PIN_MESSAGES, 1, [pinner.id]);
    const m = await h.messages().send(bob, w.textId, 'pin me');
    await h.refused(() => h.messages().pin(bob, m.id), MissingPermission, {
      details: { permissions: ['PIN_MESSAGES'] },
    });
    await h.messages().pin(pinner, m.id);
    const notice = await h.lastMessageId(w.textId);
    const [row] = await db().sql<{ type: string; replyToId: string }>(
      `select type, "replyToId"::text from "Message" where id = $1`,
      [notice],
    );
    expect(row).toEqual({ type: 'PIN', replyToId: m.id });
    expect((await h.messages().pins(bob, w.textId)).map((p) => p.id)).toEqual([m.id]);
    // Pinning twice is a no-op: no second notice, no second audit entry.
    await h.messages().pin(pinner, m.id);
    expect(await audit(w.server.id, 74)).toHaveLength(1);
    await h.messages().unpin(w.owner, m.id);
    expect(await audit(w.server.id, 75)).toEqual([
      {
        actorId: w.owner.id,
        targetId: bob.id,
        changes: [
          { key: 'channelId', new: w.textId },
          { key: 'messageId', new: m.id },
        ],
        reason: null,
      },
    ]);
    expect((await h.eventsOfType('CHANNEL_PINS_UPDATE')).length).toBe(2);
  });

  it('holds 250 pins per channel, also under concurrency', async () => {
    const w = await h.world();
    await insertMessages(w.textId, w.server.id, w.owner.id, 240, { pinned: true });
    const candidates = await insertMessages(w.textId, w.server.id, w.owner.id, 30);
    const results = await race(db(), 30, (em, i) => h.messages(em).pin(w.owner, candidates[i]));
    expect(fulfilled(results)).toHaveLength(10);
    expect(rejected(results).every((e) => e instanceof LimitReached)).toBe(true);
    const [{ n }] = await db().sql<{ n: number }>(
      `select count(*)::int as n from "Message" where "channelId" = $1 and pinned`,
      [w.textId],
    );
    expect(n).toBe(250);
    const leftOut = candidates[results.findIndex((r) => r.status === 'rejected')];
    await h.refused(() => h.messages().pin(w.owner, leftOut), LimitReached, { limit: 'pinsPerChannel', max: 250 });
    // One unpin makes room for exactly one more.
    await h.messages().unpin(w.owner, candidates[results.findIndex((r) => r.status === 'fulfilled')]);
    await h.messages().pin(w.owner, leftOut);
  });
});

describe('a ban with deleteMessageSeconds', () => {
  it("deletes the user's messages of that window in every channel of the server, and nothing else", async () => {
    const w = await h.world();
    const other = await h.world('Elsewhere');
    const [bob, carol] = [await h.joined(w, 'bob'), await h.joined(w, 'carol')];
    await h.memberships().acceptInvite(bob, other.code);
    const second = await h.channel(w.server.id);
    const old = await insertMessages(w.textId, w.server.id, bob.id, 1, { at: new Date(Date.now() - 2 * 3600_000) });
    const kept = await h.messages().send(carol, w.textId, 'carol stays');
    const recent = [await h.messages().send(bob, w.textId, 'spam 1'), await h.messages().send(bob, second, 'spam 2')];
    const elsewhere = await h.messages().send(bob, other.textId, 'not this server');
    await h.memberships().ban(w.owner, w.server.id, bob, { reason: 'spam', deleteMessageSeconds: 3600 });
    const left = (
      await db().sql<{ id: string }>(`select id::text from "Message" where "authorId" = $1 order by id`, [bob.id])
    ).map((r) => r.id);
    expect(left).toEqual([old[0], elsewhere.id]);
    expect(await h.lastMessageId(w.textId)).toBe(kept.id);
    expect(await h.lastMessageId(second)).toBeNull();
    const bulk = (await h.eventsOfType('MESSAGE_DELETE_BULK'))
      .map((e) => e.payload as { ids: string[]; serverId: string })
      .filter((p) => p.serverId === w.server.id);
    expect(bulk.flatMap((p) => p.ids).sort()).toEqual(recent.map((m) => m.id).sort());
  });
});
