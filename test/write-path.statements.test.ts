import { stripVTControlCharacters } from 'node:util';
import type { EntityManager } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrm, type CrybOrm } from '../src/db/orm';
import { Channel } from '../src/entities/channel/Channel';
import { Message } from '../src/entities/message/Message';
import { ServerMember } from '../src/entities/server/ServerMember';
import { User } from '../src/entities/user/User';
import { useTestDatabase } from './support/db';
import { messagingHelpers } from './support/messaging';
import { STATEMENT_BUDGETS } from '../bench/statement-budgets';
import { EmojiService } from '../src/servers/expression-service';

/**
 * The statement budget of each hot operation: how many SQL statements it sends, begin and commit
 * included, counted from the ORM's query log on a connection of its own. A count is deterministic,
 * so it is a test; the time those statements take is measured in bench/, never here.
 * The budgets live in bench/statement-budgets.ts, which docs/performance.md is generated from.
 */

const db = useTestDatabase();
const h = messagingHelpers(db);
let counting: CrybOrm;
const log: string[] = [];

beforeAll(async () => {
  counting = await createOrm({
    clientUrl: db().url,
    poolSize: 2,
    debug: ['query'],
    logger: (line: string) => log.push(line),
  } as never);
});
afterAll(async () => {
  await counting?.close(true);
});

/** Runs `operation` on a fresh fork of the counting ORM and returns the statements it sent. */
async function statementsOf(
  operation: (em: EntityManager) => Promise<unknown>,
  prepare: (em: EntityManager) => Promise<void> = async () => undefined,
): Promise<string[]> {
  const em = counting.em.fork();
  await prepare(em);
  log.length = 0;
  await operation(em);
  return log.map((line) =>
    stripVTControlCharacters(line)
      .replace(/^\[query\] /, '')
      .replace(/ \[took .*$/, ''),
  );
}

async function expectWithinBudget(name: keyof typeof STATEMENT_BUDGETS, statements: string[]): Promise<void> {
  // Printed so a reader of the CI log sees the real count beside the budget.
  console.log(`[statements] ${name}: ${statements.length} (budget ${STATEMENT_BUDGETS[name]})`);
  expect.soft(statements.length, statements.join('\n')).toBeLessThanOrEqual(STATEMENT_BUDGETS[name]);
}

describe('statement budgets of the hot operations', () => {
  it('a text-only send into a channel without slowmode reads once and writes in one statement, the channel last', async () => {
    const w = await h.world();
    const member = await h.joined(w);
    let channel!: Channel;
    const statements = await statementsOf(
      () => channel.send(member.id, 'hello there'),
      async (em) => {
        channel = await em.findOneOrFail(Channel, { id: w.textId });
      },
    );
    await expectWithinBudget('send (text only, channel without slowmode)', statements);
    const reads = statements.filter((s) => /^(with|select)\b/i.test(s) && !/\b(insert|update|delete)\b/i.test(s));
    expect(
      reads.filter((s) => !/pg_advisory/.test(s)),
      reads.join('\n'),
    ).toHaveLength(1);
    // The writes: one statement, the message, its event, its analytics row, then the channel.
    const writes = statements.filter((s) => /\b(insert|update)\b/i.test(s));
    expect(writes, writes.join('\n')).toHaveLength(1);
    expect(writes[0]).toMatch(
      /^with w0 as \(insert into "Message".*insert into "DomainEvent".*insert into "MessageAnalytics".*\) update "Channel"/s,
    );
  });

  it('a send, an edit or a reaction with a role-locked custom emoji adds one read: the emoji with the roles the user holds', async () => {
    const w = await h.world();
    const member = await h.joined(w);
    const vip = await h.role(w.server.id, 0n, 2, [member.id]);
    const emoji = await new EmojiService(h.fork()).createEmoji(w.owner, w.server.id, { name: 'vip', roles: [vip] });
    let channel!: Channel;
    const sending = await statementsOf(
      () => channel.send(member.id, `hello <:vip:${emoji.id}>`),
      async (em) => {
        channel = await em.findOneOrFail(Channel, { id: w.textId });
      },
    );
    const emojiReads = (statements: string[]) => statements.filter((s) => /from "Emoji"/.test(s));
    expect(sending.length, sending.join('\n')).toBeLessThanOrEqual(
      STATEMENT_BUDGETS['send (text only, channel without slowmode)'] + 1,
    );
    expect(emojiReads(sending)).toHaveLength(1);
    const sent = await h.messages().send(member.id, w.textId, 'plain');
    let message!: Message;
    const prepare = async (em: EntityManager) => {
      message = await em.findOneOrFail(Message, { id: sent.id });
    };
    const editing = await statementsOf(() => message.edit(member.id, `now <:vip:${emoji.id}>`), prepare);
    expect(editing.length, editing.join('\n')).toBeLessThanOrEqual(STATEMENT_BUDGETS.edit + 1);
    expect(emojiReads(editing)).toHaveLength(1);
    const reacting = await statementsOf(() => message.react(member.id, `<:vip:${emoji.id}>`), prepare);
    expect(reacting.length, reacting.join('\n')).toBeLessThanOrEqual(STATEMENT_BUDGETS['react (new emoji)'] + 1);
    expect(emojiReads(reacting)).toHaveLength(1);
  });

  it('a send into a 1:1 DM adds only the block check under the relationship locks', async () => {
    const alice = await h.register('alice');
    const bob = await h.register('bob');
    await alice.sendFriendRequest(bob);
    await (await h.fork().findOneOrFail(User, { id: bob.id })).acceptFriendRequest(alice);
    const dm = await (await h.fork().findOneOrFail(User, { id: alice.id })).openDM(bob.id);
    let channel!: Channel;
    const statements = await statementsOf(
      () => channel.send(alice.id, 'hi bob'),
      async (em) => {
        channel = await em.findOneOrFail(Channel, { id: dm.id });
      },
    );
    await expectWithinBudget('send (1:1 DM)', statements);
  });

  it('edit', async () => {
    const w = await h.world();
    const sent = await h.messages().send(w.owner.id, w.textId, 'first');
    let message!: Message;
    const statements = await statementsOf(
      () => message.edit(w.owner.id, 'second'),
      async (em) => {
        message = await em.findOneOrFail(Message, { id: sent.id });
      },
    );
    await expectWithinBudget('edit', statements);
  });

  it('react with a new emoji', async () => {
    const w = await h.world();
    const sent = await h.messages().send(w.owner.id, w.textId, 'react to me');
    let message!: Message;
    const statements = await statementsOf(
      () => message.react(w.owner.id, '🔥'),
      async (em) => {
        message = await em.findOneOrFail(Message, { id: sent.id });
      },
    );
    await expectWithinBudget('react (new emoji)', statements);
  });

  it('ack', async () => {
    const w = await h.world();
    const sent = await h.messages().send(w.owner.id, w.textId, 'read me');
    let channel!: Channel;
    const statements = await statementsOf(
      () => channel.ack(w.owner.id, sent.id),
      async (em) => {
        channel = await em.findOneOrFail(Channel, { id: w.textId });
      },
    );
    await expectWithinBudget('ack', statements);
  });

  it('joinVoice and leaveVoice', async () => {
    const w = await h.world();
    const user = await h.joined(w);
    const [{ id: voiceId }] = await db().sql<{ id: string }>(
      `select id::text from "Channel" where "serverId" = $1 and type = 'GUILD_VOICE'`,
      [w.server.id],
    );
    let member!: ServerMember;
    const prepare = async (em: EntityManager) => {
      member = await em.findOneOrFail(ServerMember, { server: w.server.id, user: user.id });
    };
    const joining = await statementsOf(() => member.joinVoice(voiceId), prepare);
    const leaving = await statementsOf(() => member.leaveVoice(), prepare);
    await expectWithinBudget('joinVoice', joining);
    await expectWithinBudget('leaveVoice', leaving);
  });

  it('sendFriendRequest and setPresence', async () => {
    const alice = await h.register('alice');
    const bob = await h.register('bob');
    let actor!: User;
    let target!: User;
    const prepare = async (em: EntityManager) => {
      actor = await em.findOneOrFail(User, { id: alice.id });
      target = await em.findOneOrFail(User, { id: bob.id });
    };
    const befriending = await statementsOf(() => actor.sendFriendRequest(target), prepare);
    const presence = await statementsOf(() => actor.setPresence({ status: 'DND' }), prepare);
    await expectWithinBudget('sendFriendRequest', befriending);
    await expectWithinBudget('setPresence', presence);
  });

  it('kick', async () => {
    const w = await h.world();
    const target = await h.joined(w);
    let owner!: ServerMember;
    const statements = await statementsOf(
      () => owner.kick(target.id, { reason: 'spam' }),
      async (em) => {
        owner = await em.findOneOrFail(ServerMember, { server: w.server.id, user: w.owner.id });
      },
    );
    await expectWithinBudget('kick', statements);
  });

  it('join by invite', async () => {
    const w = await h.world();
    const newcomer = await h.register('newcomer');
    let user!: User;
    const statements = await statementsOf(
      () => user.acceptInvite(w.code),
      async (em) => {
        user = await em.findOneOrFail(User, { id: newcomer.id });
      },
    );
    await expectWithinBudget('acceptInvite (join by invite)', statements);
  });
});
