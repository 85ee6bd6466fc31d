import type { EntityManager } from '@mikro-orm/postgresql';
import { LIMITS } from '../domain/limits';

/** One broken rule: which, and the rows (up to 20 per rule) that break it. */
export interface InvariantViolation {
  invariant: string;
  rows: Record<string, unknown>[];
}

/** Anything that runs SQL: a forked EntityManager, or a pg Client or Pool. */
export type SqlRunner = EntityManager | { query(sql: string): Promise<{ rows: Record<string, unknown>[] }> };

const THREADS = `('PUBLIC_THREAD', 'PRIVATE_THREAD', 'ANNOUNCEMENT_THREAD')`;

/**
 * The domain's invariants over the whole database, each as one query returning the rows that break
 * it. The rules live in the domain methods and constraints; this checks what bulk writers (seeders,
 * imports, restores) and bugs could get wrong. Run after seeding, in tests and with `npm run db:check`.
 */
export const INVARIANTS: Record<string, string> = {
  'Server.memberCount = its members': `
    select s."id", s."memberCount", (select count(*) from "ServerMember" m where m."serverId" = s."id") as actual
      from "Server" s where s."memberCount" <> (select count(*) from "ServerMember" m where m."serverId" = s."id")`,
  'Channel.lastMessageId = its newest message': `
    select c."id", c."lastMessageId", l."id" as newest from "Channel" c
      left join lateral (select m."id" from "Message" m where m."channelId" = c."id" order by m."id" desc limit 1) l
        on true
     where c."lastMessageId" is distinct from l."id"`,
  [`at most ${LIMITS.uniqueReactionsPerMessage} distinct emoji per message`]: `
    select "messageId", count(distinct "emojiKey") as emoji from "Reaction" group by "messageId"
    having count(distinct "emojiKey") > ${LIMITS.uniqueReactionsPerMessage}`,
  'one voice state per user': `
    select "userId", count(*) from "VoiceState" group by "userId" having count(*) > 1`,
  'voice states are in voice channels of servers the user is a member of': `
    select vs."userId", vs."channelId", vs."serverId", c."type", c."serverId" as "channelServerId",
      m."userId" is not null as member
      from "VoiceState" vs
      left join "Channel" c on c."id" = vs."channelId"
      left join "ServerMember" m on m."serverId" = vs."serverId" and m."userId" = vs."userId"
     where c."id" is null or c."type" not in ('GUILD_VOICE', 'GUILD_STAGE_VOICE') or c."serverId" <> vs."serverId"
       or m."userId" is null`,
  'open voice sessions mirror voice states': `
    select coalesce(vs."userId", s."userId") as "userId", vs."channelId" as "stateChannelId",
      s."channelId" as "sessionChannelId"
      from "VoiceState" vs
      full join (select * from "VoiceSession" where "endedAt" is null) s on s."userId" = vs."userId"
     where vs."userId" is null or s."userId" is null or s."channelId" <> vs."channelId"
       or s."serverId" <> vs."serverId"`,
  'username and discriminator pairs are unique': `
    select lower("username") as username, "discriminator", count(*) from "User"
     group by lower("username"), "discriminator" having count(*) > 1`,
  'thread memberCount = its members, messageCount = its messages': `
    select c."id", c."memberCount", c."messageCount",
           (select count(*) from "ThreadMember" t where t."threadId" = c."id") as members,
           (select count(*) from "Message" m where m."channelId" = c."id" and m."type" <> 'THREAD_STARTER') as messages
      from "Channel" c where c."type" in ${THREADS}
       and (c."memberCount" <> (select count(*) from "ThreadMember" t where t."threadId" = c."id")
         or c."messageCount" <> (select count(*) from "Message" m where m."channelId" = c."id"
           and m."type" <> 'THREAD_STARTER'))`,
  [`at most ${LIMITS.pinsPerChannel} pins per channel`]: `
    select "channelId", count(*) as pins from "Message" where "pinned" group by "channelId"
      having count(*) > ${LIMITS.pinsPerChannel}`,
  [`DMs have 2 recipients, group DMs 1 to ${LIMITS.groupDmRecipients}`]: `
    select c."id", c."type", count(r."userId") as recipients from "Channel" c
      left join "ChannelRecipient" r on r."channelId" = c."id"
     where c."type" in ('DM', 'GROUP_DM') group by c."id", c."type"
    having (c."type" = 'DM' and count(r."userId") <> 2) or (c."type" = 'GROUP_DM' and (count(r."userId") < 1
      or count(r."userId") > ${LIMITS.groupDmRecipients}))`,
  'ReadState.mentionCount >= 0': `
    select "userId", "channelId", "mentionCount" from "ReadState" where "mentionCount" < 0`,
};

async function run(db: SqlRunner, sql: string): Promise<Record<string, unknown>[]> {
  if ('getConnection' in db) return db.getConnection().execute(sql, [], 'all');
  return (await db.query(sql)).rows;
}

/** Runs every invariant query; returns the broken ones (an empty list when the world is sound). */
export async function checkInvariants(db: SqlRunner): Promise<InvariantViolation[]> {
  const violations: InvariantViolation[] = [];
  for (const [invariant, sql] of Object.entries(INVARIANTS)) {
    const rows = await run(db, `select * from (${sql}) broken limit 20`);
    if (rows.length > 0) violations.push({ invariant, rows });
  }
  return violations;
}

/** A one-line-per-rule report of checkInvariants' result. */
export function describeViolations(violations: readonly InvariantViolation[]): string {
  if (violations.length === 0) return `all ${Object.keys(INVARIANTS).length} invariants hold`;
  const json = (rows: unknown[]) => JSON.stringify(rows, (_, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
  return violations.map((v) => `BROKEN ${v.invariant}: ${json(v.rows.slice(0, 3))}`).join('\n');
}
