import { randomBytes } from 'node:crypto';
import { type Ref, ref } from '@mikro-orm/core';
import { EntityRepository, type EntityManager } from '@mikro-orm/postgresql';
import { NotAVoiceChannel, NotFound, NotInVoice, UserBanned, ValidationFailed, VoiceChannelFull } from '../../domain/errors';
import { idArg } from '../../domain/identity/ids';
import { assertCanActOnMember } from '../../domain/permissions';
import { lockKeys, transact } from '../../db/unit-of-work';
import { Channel, ChannelType } from '../channel/Channel';
import { AuditLogAction, AuditLogEntry, type AuditChange, validateAuditReason } from '../server/AuditLogEntry';
import { Ban } from '../server/Ban';
import { loadServerAccess, rankOf, type ServerAccess } from '../server/ServerAccess';
import type { ReasonOption, ServerArg, UserArg } from '../server/MembershipRepository';
import { ServerMember } from '../server/ServerMember';
import { recordClosedSessionsSql, recordSessionClosed } from '../analytics/recording';
import { VoiceSession } from './VoiceSession';
import { VoiceState } from './VoiceState';

/** A channel: the entity, a reference to it, or its id. */
export type ChannelArg = Channel | Ref<Channel> | { readonly id: string } | string;

export interface SelfVoiceChanges {
  selfMute?: boolean;
  selfDeaf?: boolean;
  selfVideo?: boolean;
  selfStream?: boolean;
}

export interface JoinVoiceOptions extends SelfVoiceChanges {
  /** The gateway session holding the connection (1-64 characters); a random one when omitted. */
  sessionId?: string;
}

export interface VoiceTimePeriod {
  from: Date;
  to: Date;
}

/**
 * The lock every change to one user's voice state takes first. Then come the row locks of the
 * channels involved (the current one and the destination), in id order, so concurrent joins and moves
 * never deadlock; the destination's row lock also serialises its userLimit check-count-insert.
 * Membership operations (kick, ban, leave) take their membership lock before this one; channel
 * deletion takes only the channel's row lock. Lock order everywhere: membership advisory lock, voice
 * user lock, channel rows by id.
 */
export const voiceUserLockKey = (userId: string) => `voice:user:${userId}`;

const userIdArg = (user: unknown, field = 'user') => idArg(user, field);
const channelIdArg = (channel: unknown, field = 'channel') => idArg(channel, field);
const reasonOf = (options: unknown): string | null =>
  validateAuditReason(typeof options === 'object' && options !== null ? (options as ReasonOption).reason : undefined);

function validateSelf(changes: unknown, allowSessionId: boolean): JoinVoiceOptions {
  if (changes === undefined) return {};
  if (typeof changes !== 'object' || changes === null) throw new ValidationFailed('options', 'must be an object');
  const out: JoinVoiceOptions = {};
  for (const key of ['selfMute', 'selfDeaf', 'selfVideo', 'selfStream'] as const) {
    const value = (changes as Record<string, unknown>)[key];
    if (value === undefined) continue;
    if (typeof value !== 'boolean') throw new ValidationFailed(key, 'must be a boolean');
    out[key] = value;
  }
  const sessionId = (changes as Record<string, unknown>).sessionId;
  if (allowSessionId && sessionId !== undefined) {
    if (typeof sessionId !== 'string' || sessionId.length < 1 || sessionId.length > 64) throw new ValidationFailed('sessionId', 'must be 1-64 characters');
    out.sessionId = sessionId;
  }
  return out;
}

function validateBoolean(field: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new ValidationFailed(field, 'must be a boolean');
  return value;
}

const byId = (a: string, b: string) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0);

interface Locked {
  state: VoiceState | null;
  channels: Map<string, Channel>;
  /** The userLimit of each channel locked, read under its lock (absent: the channel is gone). */
  limits: Map<string, number>;
}

/**
 * Takes the user's voice lock, then the row locks of the user's current channel and of `channelIds`
 * in id order, and reads the state again under them (a channel deletion may have ended it meanwhile:
 * it takes the channel row lock, not the user lock). Missing channels are simply absent from the map.
 */
async function lockVoice(tx: EntityManager, userId: string, channelIds: string[] = [], options: { load?: boolean; before?: VoiceState | null } = {}): Promise<Locked> {
  const before = options.before !== undefined ? options.before : await lockUser(tx, userId);
  const ids = [...new Set([...(before ? [before.channel.id] : []), ...channelIds])].sort(byId);
  const limits = new Map<string, number>();
  for (const id of ids) {
    const [row] = await tx.execute<{ userLimit: number | null }[]>('select "userLimit" from "Channel" where "id" = ? for no key update', [id]);
    if (row) limits.set(id, row.userLimit ?? 0);
  }
  const state = before ? await tx.findOne(VoiceState, { user: userId }, { refresh: true }) : null;
  const channels = new Map<string, Channel>();
  if (ids.length > 0 && options.load !== false) {
    for (const c of await tx.find(Channel, { id: { $in: ids } }, { populate: ['overwrites'], refresh: true })) channels.set(c.id, c);
  }
  return { state, channels, limits };
}

/** Takes the user's voice lock and reads their state (not yet under any channel lock). */
async function lockUser(tx: EntityManager, userId: string): Promise<VoiceState | null> {
  await lockKeys(tx, [voiceUserLockKey(userId)]);
  return tx.findOne(VoiceState, { user: userId }, { refresh: true });
}

/** Closes the user's open session (if any) at `at`. */
async function closeSession(tx: EntityManager, userId: string, at: Date): Promise<VoiceSession | null> {
  const session = await tx.findOne(VoiceSession, { user: userId, endedAt: null }, { refresh: true });
  if (session) {
    session.close(at);
    recordSessionClosed(tx, session);
  }
  return session;
}

/** Ends a stay: closes the session, removes the state, records VOICE_STATE_UPDATE (channel null). */
async function endStay(tx: EntityManager, state: VoiceState, at: Date = new Date()): Promise<void> {
  await closeSession(tx, state.user.id, at);
  state.left();
  tx.remove(state);
}

function voiceChannel(channels: Map<string, Channel>, channelId: string): Channel {
  const channel = channels.get(channelId);
  if (!channel) throw new NotFound('Channel', channelId);
  if (!channel.isVoice || !channel.server) throw new NotAVoiceChannel(channelId, channel.type);
  return channel;
}

/**
 * Puts the user in `target`: a fresh state, or a move of `prev` (closing its session and opening one,
 * flushed in between so the one-open-session index never sees two). Takes server mute and deafen from
 * the membership; stage channels start the user in the audience.
 */
async function enter(tx: EntityManager, prev: VoiceState | null, target: Channel, member: ServerMember, options: JoinVoiceOptions): Promise<VoiceState> {
  const now = new Date();
  const serverRef = target.server!;
  let state: VoiceState;
  if (prev) {
    await closeSession(tx, prev.user.id, now);
    if (prev.server.id !== serverRef.id) prev.left();
    await tx.flush();
    state = prev;
    state.channel = ref(target);
    state.server = serverRef;
    state.joinedAt = now;
    state.lastHeartbeatAt = now;
    if (options.sessionId) state.sessionId = options.sessionId;
  } else {
    state = new VoiceState(member.user, target, serverRef, options.sessionId ?? randomBytes(16).toString('hex'), now);
    tx.persist(state);
  }
  for (const key of ['selfMute', 'selfDeaf', 'selfVideo', 'selfStream'] as const) if (options[key] !== undefined) state[key] = options[key]!;
  state.serverMute = member.mute;
  state.serverDeaf = member.deaf;
  state.suppress = target.type === ChannelType.GUILD_STAGE_VOICE;
  state.requestToSpeakAt = null;
  tx.persist(new VoiceSession(member.user, target.id, serverRef, now));
  state.changed();
  return state;
}

/** The target's state, which must be in the actor's server; then the actor's access. */
async function moderated(tx: EntityManager, state: VoiceState | null, targetId: string, actorId: string, serverId?: string): Promise<{ state: VoiceState; access: ServerAccess }> {
  if (!state || (serverId !== undefined && state.server.id !== serverId)) throw new NotInVoice(targetId, serverId ?? null);
  const access = await loadServerAccess(tx, state.server.id, actorId);
  return { state, access };
}

async function assertCanModerate(tx: EntityManager, access: ServerAccess, targetId: string): Promise<ServerMember> {
  const victim = await tx.findOne(ServerMember, { server: access.server.id, user: targetId }, { populate: ['roles'], refresh: true });
  if (!victim) throw new NotInVoice(targetId, access.server.id);
  assertCanActOnMember(access.rank, rankOf(targetId, victim.roles.getItems()), access.server.owner.id, 'voice');
  return victim;
}

const audit = (tx: EntityManager, access: ServerAccess, action: AuditLogAction, targetId: string | null, changes: AuditChange[], reason: string | null) =>
  tx.persist(new AuditLogEntry(access.server, access.member.user, action, targetId, changes, reason));

/**
 * Ends `userId`'s stay in voice if it is in `serverId`'s channels (kick, ban, leave). Runs inside the
 * caller's transaction, after its membership lock.
 */
export async function endVoiceInServer(tx: EntityManager, serverId: string, userId: string): Promise<boolean> {
  const { state } = await lockVoice(tx, userId);
  if (!state || state.server.id !== serverId) return false;
  await endStay(tx, state);
  return true;
}

/** Ends every stay in a channel about to be deleted, inside the caller's transaction. Returns how many. */
export async function endVoiceInChannel(tx: EntityManager, channelId: string): Promise<number> {
  await tx.execute('select 1 from "Channel" where "id" = ? for no key update', [channelId]);
  const states = await tx.find(VoiceState, { channel: channelId }, { refresh: true });
  const now = new Date();
  const sessions = await tx.find(VoiceSession, { user: { $in: states.map((s) => s.user.id) }, endedAt: null }, { refresh: true });
  for (const session of sessions) {
    session.close(now);
    recordSessionClosed(tx, session);
  }
  for (const state of states) {
    state.left();
    tx.remove(state);
  }
  return states.length;
}

/**
 * Voice: joining, leaving and moving between voice and stage channels, self and server mute/deafen,
 * the stage's speakers and audience, and the session history. Each method is one unit of work under
 * the locks described at `voiceUserLockKey`: it checks, writes the state, the session, the audit entry
 * and VOICE_STATE_UPDATE together, or nothing at all.
 */
export class VoiceRepository extends EntityRepository<VoiceState> {
  /**
   * Joins a voice or stage channel, or moves there when already in another (closing that session and
   * opening one). Needs membership (not banned), VIEW_CHANNEL and CONNECT in the channel (a timeout
   * removes CONNECT), and room under the channel's userLimit unless the user has MOVE_MEMBERS there.
   * Joining the channel one is already in only applies `options` (the session continues).
   * Stage channels seat the user in the audience (suppress).
   */
  async joinVoice(user: UserArg, channel: ChannelArg, options: JoinVoiceOptions = {}): Promise<VoiceState> {
    const userId = userIdArg(user);
    const channelId = channelIdArg(channel);
    const opts = validateSelf(options, true);
    return transact(this.em, async (tx) => {
      // The checks read before the channel row locks, so the locks are held only for count and write.
      const before = await lockUser(tx, userId);
      const found = await tx.findOne(Channel, channelId, { populate: ['overwrites'], refresh: true });
      const target = voiceChannel(new Map(found ? [[found.id, found]] : []), channelId);
      const serverId = target.server!.id;
      if ((await tx.count(Ban, { server: serverId, user: userId })) > 0) throw new UserBanned(serverId);
      const access = await loadServerAccess(tx, serverId, userId);
      access.require(['VIEW_CHANNEL', 'CONNECT'], target);
      const { state, limits } = await lockVoice(tx, userId, [channelId], { load: false, before });
      if (!limits.has(channelId)) throw new NotFound('Channel', channelId);
      if (state && state.channel.id === channelId) {
        const changed = applySelf(state, opts);
        if (opts.sessionId && opts.sessionId !== state.sessionId) state.sessionId = opts.sessionId;
        else if (!changed) return state;
        state.lastHeartbeatAt = new Date();
        state.changed();
        return state;
      }
      const limit = limits.get(channelId)!;
      if (limit > 0 && !access.has('MOVE_MEMBERS', target)) {
        const inside = await tx.count(VoiceState, { channel: channelId });
        if (inside >= limit) throw new VoiceChannelFull(channelId, limit);
      }
      return enter(tx, state, target, access.member, opts);
    });
  }

  /** Leaves voice, wherever the user is. NotInVoice when not connected. */
  async leaveVoice(user: UserArg): Promise<void> {
    const userId = userIdArg(user);
    await transact(this.em, async (tx) => {
      const { state } = await lockVoice(tx, userId, [], { load: false });
      if (!state) throw new NotInVoice(userId);
      await endStay(tx, state);
    });
  }

  /**
   * Moves `target` to `channel` (of the same server) as a moderator: the actor needs MOVE_MEMBERS in
   * the target's current channel, and VIEW_CHANNEL, CONNECT and MOVE_MEMBERS in the destination
   * (the userLimit does not apply), and must outrank the target ('voice' hierarchy; moving oneself is
   * allowed). Audit 26 MEMBER_MOVE when it moves someone else.
   */
  async moveMember(actor: UserArg, target: UserArg, channel: ChannelArg, options: ReasonOption = {}): Promise<VoiceState> {
    const actorId = userIdArg(actor, 'actor');
    const targetId = userIdArg(target, 'target');
    const channelId = channelIdArg(channel);
    const reason = reasonOf(options);
    return transact(this.em, async (tx) => {
      const locked = await lockVoice(tx, targetId, [channelId]);
      const { state, access } = await moderated(tx, locked.state, targetId, actorId);
      const destination = voiceChannel(locked.channels, channelId);
      if (destination.server!.id !== access.server.id) throw new ValidationFailed('channel', 'is in another server');
      const from = locked.channels.get(state.channel.id)!;
      access.require('MOVE_MEMBERS', from);
      access.require(['VIEW_CHANNEL', 'CONNECT', 'MOVE_MEMBERS'], destination);
      const member = await assertCanModerate(tx, access, targetId);
      if (from.id === destination.id) return state;
      const moved = await enter(tx, state, destination, member, {});
      if (targetId !== actorId) audit(tx, access, AuditLogAction.MEMBER_MOVE, targetId, [{ key: 'channel_id', old: from.id, new: destination.id }], reason);
      return moved;
    });
  }

  /** Disconnects `target` from voice (MOVE_MEMBERS in their channel, 'voice' hierarchy). Audit 27 for someone else. */
  async disconnect(actor: UserArg, server: ServerArg, target: UserArg, options: ReasonOption = {}): Promise<void> {
    const actorId = userIdArg(actor, 'actor');
    const serverId = idArg(server, 'server');
    const targetId = userIdArg(target, 'target');
    const reason = reasonOf(options);
    await transact(this.em, async (tx) => {
      const locked = await lockVoice(tx, targetId);
      const { state, access } = await moderated(tx, locked.state, targetId, actorId, serverId);
      access.require('MOVE_MEMBERS', locked.channels.get(state.channel.id)!);
      await assertCanModerate(tx, access, targetId);
      const channelId = state.channel.id;
      await endStay(tx, state);
      if (targetId !== actorId) audit(tx, access, AuditLogAction.MEMBER_DISCONNECT, targetId, [{ key: 'channel_id', old: channelId }], reason);
    });
  }

  /** Changes one's own mute, deafen, video or stream flags. Nothing changed writes nothing. */
  async setSelfState(user: UserArg, changes: SelfVoiceChanges): Promise<VoiceState> {
    const userId = userIdArg(user);
    const opts = validateSelf(changes, false);
    return transact(this.em, async (tx) => {
      const { state } = await lockVoice(tx, userId);
      if (!state) throw new NotInVoice(userId);
      if (!applySelf(state, opts)) return state;
      state.lastHeartbeatAt = new Date();
      state.changed();
      return state;
    });
  }

  /** Server-mutes or unmutes `target` (MUTE_MEMBERS in their channel, 'voice' hierarchy). Audit 24 `mute`. */
  serverMute(actor: UserArg, server: ServerArg, target: UserArg, mute: boolean, options: ReasonOption = {}): Promise<VoiceState> {
    return this.moderateFlag(actor, server, target, 'mute', validateBoolean('mute', mute), options);
  }

  /** Server-deafens or undeafens `target` (DEAFEN_MEMBERS in their channel, 'voice' hierarchy). Audit 24 `deaf`. */
  serverDeafen(actor: UserArg, server: ServerArg, target: UserArg, deaf: boolean, options: ReasonOption = {}): Promise<VoiceState> {
    return this.moderateFlag(actor, server, target, 'deaf', validateBoolean('deaf', deaf), options);
  }

  private async moderateFlag(actor: UserArg, server: ServerArg, target: UserArg, flag: 'mute' | 'deaf', value: boolean, options: ReasonOption): Promise<VoiceState> {
    const actorId = userIdArg(actor, 'actor');
    const serverId = idArg(server, 'server');
    const targetId = userIdArg(target, 'target');
    const reason = reasonOf(options);
    return transact(this.em, async (tx) => {
      const locked = await lockVoice(tx, targetId);
      const { state, access } = await moderated(tx, locked.state, targetId, actorId, serverId);
      access.require(flag === 'mute' ? 'MUTE_MEMBERS' : 'DEAFEN_MEMBERS', locked.channels.get(state.channel.id)!);
      const member = await assertCanModerate(tx, access, targetId);
      if (member[flag] === value && state[flag === 'mute' ? 'serverMute' : 'serverDeaf'] === value) return state;
      const before = member[flag];
      member[flag] = value;
      if (flag === 'mute') state.serverMute = value;
      else state.serverDeaf = value;
      member.updated();
      state.changed();
      audit(tx, access, AuditLogAction.MEMBER_UPDATE, targetId, [{ key: flag, old: before, new: value }], reason);
      return state;
    });
  }

  /** Stage: raises (or lowers) one's hand. Needs REQUEST_TO_SPEAK to raise; only in the audience of a stage. */
  async requestToSpeak(user: UserArg, raise = true): Promise<VoiceState> {
    const userId = userIdArg(user);
    validateBoolean('raise', raise);
    return transact(this.em, async (tx) => {
      const { state, channels } = await lockVoice(tx, userId);
      if (!state) throw new NotInVoice(userId);
      const channel = channels.get(state.channel.id)!;
      if (channel.type !== ChannelType.GUILD_STAGE_VOICE) throw new NotAVoiceChannel(channel.id, channel.type);
      if (raise) {
        const access = await loadServerAccess(tx, state.server.id, userId);
        access.require('REQUEST_TO_SPEAK', channel);
        if (!state.suppress || state.requestToSpeakAt) return state;
        state.requestToSpeakAt = new Date();
      } else {
        if (!state.requestToSpeakAt) return state;
        state.requestToSpeakAt = null;
      }
      state.changed();
      return state;
    });
  }

  /**
   * Stage: makes `target` a speaker (suppress false) or moves them back to the audience (true).
   * Becoming a speaker needs MUTE_MEMBERS in the stage (for oneself too: Discord's stage moderator);
   * anyone may step down themself; moving someone else needs MUTE_MEMBERS and the 'voice' hierarchy.
   * Inviting someone to speak is `setSuppress(actor, server, target, false)`.
   */
  async setSuppress(actor: UserArg, server: ServerArg, target: UserArg, suppress: boolean): Promise<VoiceState> {
    const actorId = userIdArg(actor, 'actor');
    const serverId = idArg(server, 'server');
    const targetId = userIdArg(target, 'target');
    validateBoolean('suppress', suppress);
    return transact(this.em, async (tx) => {
      const locked = await lockVoice(tx, targetId);
      const { state, access } = await moderated(tx, locked.state, targetId, actorId, serverId);
      const channel = locked.channels.get(state.channel.id)!;
      if (channel.type !== ChannelType.GUILD_STAGE_VOICE) throw new NotAVoiceChannel(channel.id, channel.type);
      const selfStepDown = actorId === targetId && suppress;
      if (!selfStepDown) {
        access.require('MUTE_MEMBERS', channel);
        await assertCanModerate(tx, access, targetId);
      }
      if (state.suppress === suppress && state.requestToSpeakAt === null) return state;
      state.suppress = suppress;
      state.requestToSpeakAt = null;
      state.changed();
      return state;
    });
  }

  /** Stage: invites `target` to speak (MUTE_MEMBERS); see `setSuppress`. */
  inviteToSpeak(actor: UserArg, server: ServerArg, target: UserArg): Promise<VoiceState> {
    return this.setSuppress(actor, server, target, false);
  }

  /** Marks the user's connection alive (no event). False when the user is not in voice. */
  async heartbeat(user: UserArg): Promise<boolean> {
    const userId = userIdArg(user);
    const rows = await this.em.execute<{ userId: string }[]>('update "VoiceState" set "lastHeartbeatAt" = now() where "userId" = ? returning "userId"', [userId]);
    return rows.length > 0;
  }

  /**
   * The sweeper for stays left open by a crashed process. "Stale" means: a voice state whose
   * lastHeartbeatAt (set at join, at every change and by `heartbeat`) is older than the cutoff. Each
   * such stay is ended as a leave is (session closed now, state removed, VOICE_STATE_UPDATE), in its
   * own unit of work under the same locks, re-checked there so a user who just came back is left
   * alone. Open sessions without any voice state (a state removed outside this package, say by raw
   * SQL) that started before the cutoff are closed as well. `olderThan`: the cutoff itself (a Date),
   * or a silence in milliseconds. Returns how many sessions it closed.
   */
  async closeStaleVoiceSessions(olderThan: Date | number): Promise<number> {
    const cutoff = olderThan instanceof Date ? olderThan : new Date(Date.now() - validateNonNegative(olderThan));
    if (Number.isNaN(cutoff.getTime())) throw new ValidationFailed('olderThan', 'must be a date or a number of milliseconds');
    const stale = await this.em.fork().execute<{ userId: string }[]>('select "userId"::text as "userId" from "VoiceState" where "lastHeartbeatAt" < ? order by "userId"', [cutoff]);
    let closed = 0;
    for (const { userId } of stale) {
      const ended = await transact(this.em.fork(), async (tx) => {
        const { state } = await lockVoice(tx, userId);
        if (!state || state.lastHeartbeatAt.getTime() >= cutoff.getTime()) return false;
        await endStay(tx, state);
        return true;
      });
      if (ended) closed++;
    }
    // One statement closes the orphans and writes their VoiceAnalytics rows.
    const orphans = await this.em.fork().execute<{ id: string }[]>(
      recordClosedSessionsSql(`update "VoiceSession" s set "endedAt" = greatest(now(), s."startedAt"),
              "durationSeconds" = floor(extract(epoch from greatest(now(), s."startedAt") - s."startedAt"))::int
        where s."endedAt" is null and s."startedAt" < ?
          and not exists (select 1 from "VoiceState" v where v."userId" = s."userId")
        returning s."id", s."serverId", s."channelId", s."userId", s."durationSeconds", s."endedAt"`),
      [cutoff],
    );
    return closed + orphans.length;
  }

  // Queries.

  /** Who is in a channel, by join time. */
  async statesIn(channel: ChannelArg): Promise<VoiceState[]> {
    return this.em.find(VoiceState, { channel: channelIdArg(channel) }, { orderBy: { joinedAt: 'asc', user: 'asc' } });
  }

  /** Who is in any voice channel of a server (one query), by channel then join time. */
  async statesInServer(server: ServerArg): Promise<VoiceState[]> {
    return this.em.find(VoiceState, { server: idArg(server, 'server') }, { orderBy: { channel: 'asc', joinedAt: 'asc', user: 'asc' } });
  }

  /** The user's current voice state, or null. */
  async stateOf(user: UserArg): Promise<VoiceState | null> {
    return this.em.findOne(VoiceState, { user: userIdArg(user) });
  }

  /**
   * Seconds the user spent in a server's voice channels within [from, to): each session's overlap
   * with the period, open sessions counting until now.
   */
  async voiceTime(user: UserArg, server: ServerArg, period: VoiceTimePeriod): Promise<number> {
    const userId = userIdArg(user);
    const serverId = idArg(server, 'server');
    if (!(period?.from instanceof Date) || !(period?.to instanceof Date) || Number.isNaN(period.from.getTime()) || Number.isNaN(period.to.getTime())) {
      throw new ValidationFailed('period', 'needs from and to dates');
    }
    if (period.to.getTime() < period.from.getTime()) throw new ValidationFailed('period', 'ends before it starts');
    const [row] = await this.em.execute<{ seconds: string | null }[]>(
      `select coalesce(sum(extract(epoch from (least(coalesce("endedAt", now()), ?::timestamptz) - greatest("startedAt", ?::timestamptz)))), 0)::float8 as seconds
         from "VoiceSession"
        where "serverId" = ? and "userId" = ? and "startedAt" < ?::timestamptz and coalesce("endedAt", now()) > ?::timestamptz`,
      [period.to, period.from, serverId, userId, period.to, period.from],
    );
    return Math.floor(Number(row?.seconds ?? 0));
  }

  /** Sessions of a user in a server, newest first (history). */
  async sessionsOf(user: UserArg, server: ServerArg, options: { limit?: number } = {}): Promise<VoiceSession[]> {
    const limit = options.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new ValidationFailed('limit', 'must be 1-1000');
    return this.em.find(VoiceSession, { user: userIdArg(user), server: idArg(server, 'server') }, { orderBy: { startedAt: 'desc', id: 'desc' }, limit });
  }
}

function validateNonNegative(ms: unknown): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw new ValidationFailed('olderThan', 'must be a date or a number of milliseconds');
  return ms;
}

function applySelf(state: VoiceState, opts: SelfVoiceChanges): boolean {
  let changed = false;
  for (const key of ['selfMute', 'selfDeaf', 'selfVideo', 'selfStream'] as const) {
    if (opts[key] !== undefined && state[key] !== opts[key]) {
      state[key] = opts[key]!;
      changed = true;
    }
  }
  return changed;
}

