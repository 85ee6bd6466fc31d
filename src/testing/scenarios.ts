import { seedScenario as runSeed, type SeedReport, type SeededWorld } from '../seeders/world/run';
import type { ScenarioName } from '../seeders/world/spec';
import type { SeededServerPlan } from '../seeders/world/structure';
import type { TestDatabase } from './database';

/** A seeded scenario's interesting actors and places, by id (domain methods take ids). */
export interface Scenario {
  report: SeedReport;
  world: SeededWorld;
  /** The first (largest) server and its people. */
  server: SeededServerPlan;
  owner: string;
  admin: string;
  moderator: string;
  /** A member with no staff role, not muted. */
  member: string;
  /** A member denied SEND_MESSAGES in general by a member overwrite. */
  muted: string;
  /** A user who is not a member of the first server. */
  outsider: string;
  general: string;
  /** Only staff may post (an @everyone deny, a Moderator allow). */
  announcements: string;
  /** Hidden from @everyone, visible to moderators. */
  staffChannel: string;
  /** A voice channel at its user limit, and who is in it. */
  fullVoice: { channelId: string; userLimit: number; userIds: string[] };
  /** Two users one of whom blocks the other, and two friends. */
  blocked: [string, string];
  friends: [string, string];
  dm: { id: string; recipientIds: string[] };
  groupDm: { id: string; ownerId: string; recipientIds: string[] };
  thread: string;
}

/**
 * Seeds a named scenario (small by default: about a second) into the test's database and returns
 * handles to its actors. The database must be empty (a fresh useTestDatabase()).
 */
export async function seedScenario(
  db: Pick<TestDatabase, 'fork' | 'sql'>,
  name: ScenarioName = 'small',
  seed = 42,
): Promise<Scenario> {
  const report = await runSeed(db.fork(), { scenario: name, seed, log: null });
  const world = report.world;
  const server = world.servers[0];
  const staff = new Set([server.ownerId, server.adminId, ...server.moderatorIds, server.mutedId]);
  const member = server.memberIds.find((u) => !staff.has(u));
  const outsider = world.userIds.find((u) => !server.memberIds.includes(u));
  if (
    !server.adminId ||
    !server.mutedId ||
    !server.staffChannelId ||
    !member ||
    !outsider ||
    world.blockedPairs.length === 0 ||
    world.groupDms.length === 0
  ) {
    throw new Error(`scenario "${name}" lacks an actor the helpers promise`);
  }
  const inFull = [...world.inVoice]
    .filter(([, channelId]) => channelId === server.fullVoiceChannelId)
    .map(([userId]) => userId);
  const [{ userLimit }] = await db.sql<{ userLimit: number }>(`select "userLimit" from "Channel" where id = $1`, [
    server.fullVoiceChannelId,
  ]);
  return {
    report,
    world,
    server,
    owner: server.ownerId,
    admin: server.adminId,
    moderator: server.moderatorIds[0],
    member,
    muted: server.mutedId,
    outsider,
    general: server.openChannelIds[0],
    announcements: server.announcementsId,
    staffChannel: server.staffChannelId,
    fullVoice: { channelId: server.fullVoiceChannelId, userLimit, userIds: inFull },
    blocked: world.blockedPairs[0],
    friends: world.friendPairs[0],
    dm: world.dms[0],
    groupDm: world.groupDms[0],
    thread: server.threadIds[0],
  };
}
