/**
 * The locking scheme and the shared steps of every voice operation: lock, enter, end a stay.
 *
 * Lock order everywhere: membership advisory lock (kick, ban, leave take it first), the server's
 * hierarchy lock (rolesLockKey: kick, ban and the moderations here), the user's voice
 * lock (voiceUserLockKey), then the row locks of the channels involved (the current one and the
 * destination) in id order, so concurrent joins and moves never deadlock; the destination's row lock
 * also serialises its userLimit check-count-insert. Channel deletion takes only the channel's row lock.
 */
import { randomBytes } from 'node:crypto';
import { ref, wrap } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { NotAVoiceChannel, NotFound, NotInVoice } from '../domain/errors';
import { assertCanActOnMember } from '../domain/permissions';
import { rolesLockKey, voiceUserLockKey } from '../db/lock-keys';
import { lockKeys } from '../db/unit-of-work';
import { outboxInsert } from '../db/event-recorder';
import { mergeRow, newEntityInsert } from '../db/rows';
import { withLeading } from '../db/statements';
import { takeRecordedEvents } from '../domain/events';
import { recordClosedSessionsSql } from '../entities/analytics/recording';
import { Channel, ChannelType } from '../entities/channel/Channel';
import { PermissionOverwrite } from '../entities/channel/PermissionOverwrite';
import { type AuditChange, type AuditLogAction, AuditLogEntry } from '../entities/server/AuditLogEntry';
import { loadServerAccess, rankOf, type ServerAccess } from '../entities/server/ServerAccess';
import { ServerMember } from '../entities/server/ServerMember';
import { VoiceSession } from '../entities/voice/VoiceSession';
import { VoiceState } from '../entities/voice/VoiceState';
import type { JoinVoiceOptions } from './voice-args';

/** Whether the user is banned from the server (a ban check rides along with the channel row locks). */
const BANNED_SQL = 'exists (select 1 from "Ban" b where b."serverId" = ? and b."userId" = ?)';

export interface Locked {
  state: VoiceState | null;
  channels: Map<string, Channel>;
  /** The userLimit of each channel locked, read under its lock (absent: the channel is gone). */
  limits: Map<string, number>;
  /** With `banCheck`: whether the user is banned from that server (read by the lock statement). */
  banned: boolean;
}

export interface LockVoiceOptions {
  /** false: lock the channels without loading them. */
  load?: boolean;
  /** The state already read under the user's voice lock (joinVoice reads it before its checks). */
  before?: VoiceState | null;
  /** Also read whether the user is banned from this server, in the row-lock statement. */
  banCheck?: string;
  /**
   * Moderation of another member: that server's hierarchy lock (rolesLockKey), taken in the same
   * statement as the user's voice lock, so the role positions and both members' roles read after it
   * cannot change before commit (src/db/lock-keys.ts).
   */
  hierarchyOf?: string;
}

/**
 * Takes the user's voice lock, then the row locks of the user's current channel and of `channelIds`
 * in id order, and reads the state again under them (a channel deletion may have ended it meanwhile:
 * it takes the channel row lock, not the user lock). Missing channels are simply absent from the map.
 */
export async function lockVoice(
  tx: EntityManager,
  userId: string,
  channelIds: string[] = [],
  options: LockVoiceOptions = {},
): Promise<Locked> {
  const before = options.before !== undefined ? options.before : await lockUser(tx, userId, options.hierarchyOf);
  const ids = [...new Set([...(before ? [before.channel.id] : []), ...channelIds])];
  const limits = new Map<string, number>();
  let banned = false;
  if (ids.length > 0) {
    // One statement for all the row locks: PostgreSQL locks the rows as they leave the sort, so in id
    // order. The ban read rides along: like a separate read, it comes after the user's voice lock,
    // which a ban's endVoiceInServer also takes.
    const rows = await tx.execute<{ id: string; userLimit: number | null; banned: boolean }[]>(
      `select c."id"::text as "id", c."userLimit",
              ${options.banCheck !== undefined ? BANNED_SQL : 'false'} as "banned"
         from "Channel" c where c."id" = any(array[?]::bigint[]) order by c."id" for no key update`,
      options.banCheck !== undefined ? [options.banCheck, userId, ids] : [ids],
    );
    for (const row of rows) limits.set(row.id, row.userLimit ?? 0);
    banned = rows.some((row) => row.banned);
  }
  const state = before ? await currentState(tx, userId) : null;
  const channels = new Map<string, Channel>();
  if (ids.length > 0 && options.load !== false) {
    for (const c of await loadChannels(tx, ids)) channels.set(c.id, c);
  }
  return { state, channels, limits, banned };
}

/**
 * Channels with their overwrites, as the database has them now. A refresh makes MikroORM re-select
 * the overwrites after the joined load, so it is asked for only when this unit of work already
 * holds one of the channels loaded, or any overwrite (a plain load would not overwrite them; it does
 * fill a bare reference, such as the channel of a voice state just read).
 */
export async function loadChannels(tx: EntityManager, ids: string[]): Promise<Channel[]> {
  const wanted = new Set(ids);
  let cached = false;
  for (const entity of tx.getUnitOfWork().getIdentityMap()) {
    if (
      entity instanceof PermissionOverwrite ||
      (entity instanceof Channel && wanted.has(entity.id) && wrap(entity, true).isInitialized())
    ) {
      cached = true;
      break;
    }
  }
  return tx.find(Channel, { id: { $in: ids } }, { populate: ['overwrites'], refresh: cached });
}

/**
 * Takes the user's voice lock (and the server's hierarchy lock for a moderation) and reads their state (not yet
 * under any channel lock).
 */
export async function lockUser(tx: EntityManager, userId: string, hierarchyOf?: string): Promise<VoiceState | null> {
  await lockKeys(
    tx,
    hierarchyOf === undefined ? [voiceUserLockKey(userId)] : [rolesLockKey(hierarchyOf), voiceUserLockKey(userId)],
  );
  return currentState(tx, userId);
}

/** The user's voice state as the database has it now (fresh in the unit of work), or null. */
async function currentState(tx: EntityManager, userId: string): Promise<VoiceState | null> {
  const [row] = await tx.execute<Record<string, unknown>[]>('select * from "VoiceState" where "userId" = ?', [userId]);
  return row ? mergeRow(tx, VoiceState, row) : null;
}

/**
 * Closes the users' open sessions at `at` (never before they started) and records their
 * VoiceAnalytics rows, in one statement. Returns how many it closed.
 */
export async function closeOpenSessions(tx: EntityManager, userIds: string[], at: Date): Promise<number> {
  if (userIds.length === 0) return 0;
  const closed = await tx.execute<{ id: string }[]>(recordClosedSessionsSql(closeSessionsSql), [at, at, userIds]);
  return closed.length;
}

const closeSessionsSql = `update "VoiceSession" s set "endedAt" = greatest(?::timestamptz, s."startedAt"),
            "durationSeconds" = floor(extract(epoch from greatest(?::timestamptz, s."startedAt") - s."startedAt"))::int
      where s."userId" = any(array[?]::bigint[]) and s."endedAt" is null
      returning s."id", s."serverId", s."channelId", s."userId", s."durationSeconds", s."endedAt"`;

/**
 * Ends a stay in one statement: closes the session (recording its VoiceAnalytics row), removes the
 * state and writes VOICE_STATE_UPDATE (channel null).
 */
export async function endStay(tx: EntityManager, state: VoiceState, at: Date = new Date()): Promise<void> {
  state.left();
  const events = takeRecordedEvents(state);
  const { sql, params } = withLeading(
    [
      ...(events.length > 0 ? [outboxInsert(events)] : []),
      { sql: 'delete from "VoiceState" where "userId" = ?', params: [state.user.id] },
    ],
    { sql: recordClosedSessionsSql(closeSessionsSql), params: [at, at, [state.user.id]] },
  );
  await tx.execute(sql, params);
  // The row is gone: the unit of work forgets the entity instead of deleting it again.
  tx.getUnitOfWork().unsetIdentity(state);
}

export function voiceChannel(channels: Map<string, Channel>, channelId: string): Channel {
  const channel = channels.get(channelId);
  if (!channel) throw new NotFound('Channel', channelId);
  if (!channel.isVoice || !channel.server) throw new NotAVoiceChannel(channelId, channel.type);
  return channel;
}

/**
 * Puts the user in `target`: a fresh state, or a move of `prev` (closing its session before the new
 * one is inserted, so the one-open-session index never sees two). Takes server mute and deafen from
 * the membership; stage channels start the user in the audience.
 */
export async function enter(
  tx: EntityManager,
  prev: VoiceState | null,
  target: Channel,
  member: ServerMember,
  options: JoinVoiceOptions,
): Promise<VoiceState> {
  const now = new Date();
  const serverRef = target.server!;
  let state: VoiceState;
  if (prev) {
    await closeOpenSessions(tx, [prev.user.id], now);
    if (prev.server.id !== serverRef.id) prev.left();
    state = prev;
    state.channel = ref(target);
    state.server = serverRef;
    state.joinedAt = now;
    state.lastHeartbeatAt = now;
    if (options.sessionId) state.sessionId = options.sessionId;
  } else {
    state = new VoiceState(member.user, target, serverRef, options.sessionId ?? randomBytes(16).toString('hex'), now);
  }
  for (const key of ['selfMute', 'selfDeaf', 'selfVideo', 'selfStream'] as const)
    if (options[key] !== undefined) state[key] = options[key]!;
  state.serverMute = member.mute;
  state.serverDeaf = member.deaf;
  state.suppress = target.type === ChannelType.GUILD_STAGE_VOICE;
  state.requestToSpeakAt = null;
  const session = new VoiceSession(member.user, target.id, serverRef, now);
  state.changed();
  if (prev) {
    tx.persist(session);
    return state;
  }
  // A fresh join writes its state, its session and its event in one statement (the send does the same).
  const events = takeRecordedEvents(state);
  const leading = [newEntityInsert(tx, session), ...(events.length > 0 ? [outboxInsert(events)] : [])];
  const { sql, params } = withLeading(leading, newEntityInsert(tx, state));
  await tx.execute(sql, params);
  tx.merge(state);
  tx.merge(session);
  return state;
}

/** The target's state, which must be in the actor's server; then the actor's access. */
export async function moderated(
  tx: EntityManager,
  state: VoiceState | null,
  targetId: string,
  actorId: string,
  serverId?: string,
): Promise<{ state: VoiceState; access: ServerAccess }> {
  if (!state || (serverId !== undefined && state.server.id !== serverId))
    throw new NotInVoice(targetId, serverId ?? null);
  const access = await loadServerAccess(tx, state.server.id, actorId);
  return { state, access };
}

export async function assertCanModerate(
  tx: EntityManager,
  access: ServerAccess,
  targetId: string,
): Promise<ServerMember> {
  const victim = await tx.findOne(
    ServerMember,
    { server: access.server.id, user: targetId },
    { populate: ['roles'], refresh: true },
  );
  if (!victim) throw new NotInVoice(targetId, access.server.id);
  assertCanActOnMember(access.rank, rankOf(targetId, victim.roles.getItems()), access.server.owner.id, 'voice');
  return victim;
}

export const audit = (
  tx: EntityManager,
  access: ServerAccess,
  action: AuditLogAction,
  targetId: string | null,
  changes: AuditChange[],
  reason: string | null,
) => tx.persist(new AuditLogEntry(access.server, access.member.user, action, targetId, changes, reason));
