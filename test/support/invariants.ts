import type { TestDatabase } from './db';

/**
 * The domain invariants, read from the database itself: each query returns the rows that break one.
 * An empty list means the world is consistent.
 */
const CHECKS: Record<string, string> = {
  memberCount: `select s.id from "Server" s where s."memberCount" <> (select count(*) from "ServerMember" m where m."serverId" = s.id)`,
  lastMessageId: `select c.id from "Channel" c where c."lastMessageId" is distinct from (select max(m.id) from "Message" m where m."channelId" = c.id)`,
  reactionLimit: `select "messageId" from "Reaction" group by "messageId" having count(distinct "emojiKey") > 20`,
  pinLimit: `select "channelId" from "Message" where pinned group by "channelId" having count(*) > 250`,
  voiceSessionsMirrorStates: `select v."userId" from "VoiceState" v full join (select * from "VoiceSession" where "endedAt" is null) s on s."userId" = v."userId"
                               where v."userId" is null or s."userId" is null or s."channelId" <> v."channelId"`,
  voiceStatesOfMembers: `select v."userId" from "VoiceState" v left join "ServerMember" m on m."serverId" = v."serverId" and m."userId" = v."userId" where m."userId" is null`,
  discriminators: `select lower(username), discriminator from "User" group by 1, 2 having count(*) > 1`,
  threadCounts: `select c.id from "Channel" c where c.type in ('PUBLIC_THREAD', 'PRIVATE_THREAD', 'ANNOUNCEMENT_THREAD') and c."memberCount" <> (select count(*) from "ThreadMember" t where t."threadId" = c.id)`,
  dmRecipients: `select c.id from "Channel" c where (c.type = 'DM' and (select count(*) from "ChannelRecipient" r where r."channelId" = c.id) <> 2)
                   or (c.type = 'GROUP_DM' and (select count(*) from "ChannelRecipient" r where r."channelId" = c.id) not between 1 and 10)`,
  mentionCounts: `select "userId" from "ReadState" where "mentionCount" < 0`,
};

export async function invariantViolations(db: TestDatabase): Promise<string[]> {
  const violations: string[] = [];
  for (const [name, sql] of Object.entries(CHECKS)) {
    const rows = await db.sql(sql);
    if (rows.length > 0) violations.push(`${name}: ${JSON.stringify(rows.slice(0, 3))}`);
  }
  return violations;
}
