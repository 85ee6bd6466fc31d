import type { Client } from 'pg';
import { CRYB_EPOCH_MS } from '../../domain/snowflake';

const createdAt = (column: string) => `to_timestamp(((${column} >> 22) + ${CRYB_EPOCH_MS}) / 1000.0)`;
const THREAD_TYPES = `('PUBLIC_THREAD', 'PRIVATE_THREAD', 'ANNOUNCEMENT_THREAD')`;

/**
 * After a bulk load, the derived state is computed in SQL, one statement per counter, from the rows
 * themselves: so it is right by construction, and checkInvariants() confirms it.
 */
export const FINISH_STEPS: [string, string][] = [
  // Pins: about one message in 997 (by id, so deterministic), at most the 250 newest per channel.
  [
    'pins',
    `update "Message" m set "pinned" = true from (
      select "id", row_number() over (partition by "channelId" order by "id" desc) as rank
        from "Message" where "id" % 997 = 0 and "type" in ('DEFAULT', 'REPLY')) p
    where m."id" = p."id" and p.rank <= 250`,
  ],
  [
    'thread members',
    `insert into "ThreadMember" ("threadId", "userId", "joinedAt")
    select m."channelId", m."authorId", min(${createdAt('m."id"')}) from "Message" m
      join "Channel" c on c."id" = m."channelId" and c."type" in ${THREAD_TYPES}
     group by m."channelId", m."authorId"
    union all
    select c."id", c."ownerId", c."createdAt" from "Channel" c where c."type" in ${THREAD_TYPES}
      and c."ownerId" is not null
    on conflict do nothing`,
  ],
  [
    'channel counters',
    `update "Channel" c set
      "lastMessageId" = s.last,
      "messageCount" = case when c."type" in ${THREAD_TYPES} then s.count else c."messageCount" end,
      "lastPinTimestamp" = s.pinned
    from (select "channelId", max("id") as last, count(*) filter (where "type" <> 'THREAD_STARTER') as count,
                 max(${createdAt('"id"')}) filter (where "pinned") as pinned
            from "Message" group by "channelId") s
    where c."id" = s."channelId"`,
  ],
  [
    'thread member counts',
    `update "Channel" c set "memberCount" = s.count
    from (select "threadId", count(*) as count from "ThreadMember" group by "threadId") s
    where c."id" = s."threadId"`,
  ],
  [
    'member counts',
    `update "Server" s set "memberCount" = m.count
    from (select "serverId", count(*) as count from "ServerMember" group by "serverId") m
    where s."id" = m."serverId" and s."memberCount" <> m.count`,
  ],
  // Everyone has read up to their own last message in each channel they wrote in.
  [
    'read states',
    `insert into "ReadState" ("userId", "channelId", "lastReadMessageId", "lastSentAt")
    select "authorId", "channelId", max("id"), max(${createdAt('"id"')}) from "Message" group by "authorId", "channelId"
    on conflict do nothing`,
  ],
];

/** How often a step that is still running says so: one statement has no row count to report. */
const STILL_RUNNING_EVERY_MS = 5_000;

export async function finishWorld(client: Client, onStep: (name: string) => void = () => undefined): Promise<void> {
  for (const [name, sql] of FINISH_STEPS) {
    onStep(name);
    const started = performance.now();
    const ticker = setInterval(
      () => onStep(`${name} (running for ${Math.round((performance.now() - started) / 1000)} s)`),
      STILL_RUNNING_EVERY_MS,
    );
    try {
      await client.query(sql);
    } finally {
      clearInterval(ticker);
    }
  }
}
