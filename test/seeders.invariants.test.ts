import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkInvariants, INVARIANTS } from '../src/db/invariants';
import { LIMITS } from '../src/domain/limits';
import { useTestDatabase } from './support/db';
import { seedScenario, type Scenario } from './support/scenarios';

const db = useTestDatabase();
let s: Scenario;
let client: Client;

beforeAll(async () => {
  s = await seedScenario(db());
  client = new Client({ connectionString: db().url });
  await client.connect();
}, 60_000);
afterAll(async () => {
  await client?.end();
});

const rule = (prefix: string) => {
  const name = Object.keys(INVARIANTS).find((k) => k.startsWith(prefix));
  if (!name) throw new Error(`no invariant starting with "${prefix}"`);
  return name;
};

/** Breaks the world inside a transaction (constraints dropped there when they would stop it), checks, rolls back. */
async function brokenBy(...statements: string[]): Promise<string[]> {
  await client.query('begin');
  try {
    for (const sql of statements) await client.query(sql);
    return (await checkInvariants(client)).map((v) => v.invariant);
  } finally {
    await client.query('rollback');
  }
}

/** A message in the staff channel with no reactions on it. */
const quietMessage = async () =>
  (
    await db().sql<{ id: string }>(
      `select id::text from "Message" m where "channelId" = $1 and not exists (select 1 from "Reaction" r
        where r."messageId" = m.id) limit 1`,
      [s.staffChannel],
    )
  )[0].id;

describe('checkInvariants', () => {
  it('finds nothing wrong in a seeded world, through an EntityManager or a pg client', async () => {
    expect(await checkInvariants(db().fork())).toEqual([]);
    expect(await checkInvariants(client)).toEqual([]);
  });

  it('memberCount and lastMessageId', async () => {
    expect(await brokenBy(`update "Server" set "memberCount" = "memberCount" + 1 where id = ${s.server.id}`)).toEqual([
      rule('Server.memberCount'),
    ]);
    expect(await brokenBy(`update "Channel" set "lastMessageId" = null where id = ${s.general}`)).toEqual([
      rule('Channel.lastMessageId'),
    ]);
    expect(
      await brokenBy(
        `delete from "Message" where id = (select "lastMessageId" from "Channel" where id = ${s.general})`,
      ),
    ).toEqual([rule('Channel.lastMessageId')]);
  });

  it(`reactions: ${LIMITS.uniqueReactionsPerMessage} distinct emoji pass, one more does not`, async () => {
    const message = await quietMessage();
    const emoji = (n: number) =>
      `insert into "Reaction" ("messageId", "emojiKey", "userId", "emojiName") select ${message}, 'u:e' || i,
        ${s.owner}, 'e' || i from generate_series(1, ${n}) i`;
    expect(await brokenBy(emoji(LIMITS.uniqueReactionsPerMessage))).toEqual([]);
    expect(await brokenBy(emoji(LIMITS.uniqueReactionsPerMessage + 1))).toEqual([rule('at most 20 distinct emoji')]);
  });

  it('voice: one state per user, only in voice channels of servers one belongs to, open sessions mirror states', async () => {
    const [inVoice] = s.fullVoice.userIds;
    expect(
      await brokenBy(
        `alter table "VoiceState" drop constraint "VoiceState_pkey"`,
        `insert into "VoiceState" select * from "VoiceState" where "userId" = ${inVoice}`,
      ),
    ).toContain(rule('one voice state'));
    const outsiderJoins = [
      `insert into "VoiceState" ("userId", "channelId", "serverId", "sessionId") values (${s.outsider},
        ${s.fullVoice.channelId}, ${s.server.id}, 'x')`,
      `insert into "VoiceSession" (id, "userId", "channelId", "serverId", "startedAt") values (1, ${s.outsider},
        ${s.fullVoice.channelId}, ${s.server.id}, now())`,
    ];
    expect(
      await brokenBy(
        `delete from "VoiceSession" where "userId" = ${s.outsider} and "endedAt" is null`,
        `delete from "VoiceState" where "userId" = ${s.outsider}`,
        ...outsiderJoins,
      ),
    ).toEqual([rule('voice states are in voice channels')]);
    expect(
      await brokenBy(
        `update "VoiceState" set "channelId" = ${s.general} where "userId" = ${inVoice}`,
        `update "VoiceSession" set "channelId" = ${s.general} where "userId" = ${inVoice} and "endedAt" is null`,
      ),
    ).toEqual([rule('voice states are in voice channels')]);
    expect(
      await brokenBy(
        `update "VoiceSession" set "endedAt" = now(), "durationSeconds" = 1 where "userId" = ${inVoice}
          and "endedAt" is null`,
      ),
    ).toEqual([rule('open voice sessions mirror')]);
    expect(await brokenBy(`delete from "VoiceState" where "userId" = ${inVoice}`)).toEqual([
      rule('open voice sessions mirror'),
    ]);
  });

  it('username and discriminator pairs (the unique index dropped to let a duplicate in)', async () => {
    expect(
      await brokenBy(
        `drop index "User_username_discriminator_unique"`,
        `insert into "User" (id, username, discriminator) select 2, upper(username), discriminator from "User"
          where id = ${s.owner}`,
      ),
    ).toEqual([rule('username and discriminator')]);
  });

  it('thread counters', async () => {
    expect(await brokenBy(`update "Channel" set "memberCount" = "memberCount" + 1 where id = ${s.thread}`)).toEqual([
      rule('thread memberCount'),
    ]);
    expect(await brokenBy(`update "Channel" set "messageCount" = 0 where id = ${s.thread}`)).toEqual([
      rule('thread memberCount'),
    ]);
    expect(
      await brokenBy(
        `delete from "ThreadMember" where "threadId" = ${s.thread} and "userId" = (select "userId" from "ThreadMember"
          where "threadId" = ${s.thread} limit 1)`,
      ),
    ).toEqual([rule('thread memberCount')]);
  });

  it(`pins: ${LIMITS.pinsPerChannel} pass, one more does not`, async () => {
    const pins = (n: number) => [
      `update "Message" set pinned = false where "channelId" = ${s.staffChannel}`,
      `insert into "Message" (id, "channelId", "serverId", "authorId", content, pinned) select i, ${s.staffChannel},
        ${s.server.id}, ${s.owner}, 'pin', true from generate_series(1, ${n}) i`,
    ];
    expect(await brokenBy(...pins(LIMITS.pinsPerChannel))).toEqual([]);
    expect(await brokenBy(...pins(LIMITS.pinsPerChannel + 1))).toEqual([rule('at most 250 pins')]);
  });

  it(`DMs have exactly 2 recipients; group DMs up to ${LIMITS.groupDmRecipients}`, async () => {
    expect(
      await brokenBy(
        `delete from "ChannelRecipient" where "channelId" = ${s.dm.id} and "userId" = ${s.dm.recipientIds[1]}`,
      ),
    ).toEqual([rule('DMs have 2 recipients')]);
    const others = s.world.userIds.filter((u) => !s.dm.recipientIds.includes(u));
    expect(
      await brokenBy(`insert into "ChannelRecipient" ("channelId", "userId") values (${s.dm.id}, ${others[0]})`),
    ).toEqual([rule('DMs have 2 recipients')]);
    const outside = s.world.userIds.filter((u) => !s.groupDm.recipientIds.includes(u));
    const fill = (total: number) =>
      `insert into "ChannelRecipient" ("channelId", "userId") select ${s.groupDm.id},
        unnest(array[${outside.slice(0, total - s.groupDm.recipientIds.length).join(',') || 0}]::bigint[])`;
    expect(await brokenBy(fill(LIMITS.groupDmRecipients))).toEqual([]);
    expect(await brokenBy(fill(LIMITS.groupDmRecipients + 1))).toEqual([rule('DMs have 2 recipients')]);
  });

  it('mentionCount >= 0 (its check constraint dropped)', async () => {
    expect(
      await brokenBy(
        `alter table "ReadState" drop constraint read_state_mention_count_check`,
        `update "ReadState" set "mentionCount" = -1 where ctid = (select ctid from "ReadState" limit 1)`,
      ),
    ).toEqual([rule('ReadState.mentionCount')]);
  });
});
