import type { EntityManager } from '@mikro-orm/postgresql';
import {
  NotAMember,
  NotAVoiceChannel,
  NotFound,
  NotInVoice,
  UserBanned,
  ValidationFailed,
  VoiceChannelFull,
} from '../domain/errors';
import { idArg } from '../domain/identity/ids';
import type { PermissionName } from '../domain/permissions';
import { transact } from '../db/unit-of-work';
import { recordClosedSessionsSql } from '../entities/analytics/recording';
import { ChannelType } from '../entities/channel/Channel';
import { AuditLogAction } from '../entities/server/AuditLogEntry';
import { Ban } from '../entities/server/Ban';
import type { ReasonOption, ServerArg, UserArg } from '../entities/server/MembershipRepository';
import { loadServerAccess, ServerAccess } from '../entities/server/ServerAccess';
import { loadChannelAccess } from '../entities/channel/ChannelAccess';
import type { ChannelArg } from '../entities/voice/VoiceRepository';
import { VoiceState } from '../entities/voice/VoiceState';
import {
  applySelf,
  channelIdArg,
  type JoinVoiceOptions,
  reasonOf,
  type SelfVoiceChanges,
  userIdArg,
  validateBoolean,
  validateNonNegative,
  validateSelf,
} from './voice-args';
import { assertCanModerate, audit, endStay, enter, lockUser, lockVoice, moderated, voiceChannel } from './voice-stays';

/** The self flags of `opts` that would send audio or video: what a timeout forbids. */
function transmitting(opts: SelfVoiceChanges): PermissionName[] {
  const out: PermissionName[] = [];
  if (opts.selfMute === false) out.push('SPEAK');
  if (opts.selfVideo === true || opts.selfStream === true) out.push('STREAM');
  return out;
}

/**
 * Voice: joining, leaving and moving between voice and stage channels, self and server mute/deafen,
 * the stage's speakers and audience, and the stale-session sweeper. Each method is one unit of work
 * under the locks described in voice-stays.ts: it checks, writes the state, the session, the audit
 * entry and VOICE_STATE_UPDATE together, or nothing at all. Queries (statesIn, voiceTime, ...) are on
 * VoiceRepository.
 */
export class VoiceService {
  constructor(private readonly em: EntityManager) {}

  /**
   * Joins a voice or stage channel, or moves there when already in another (closing that session and
   * opening one). Needs membership (not banned), VIEW_CHANNEL and CONNECT in the channel (a timeout
   * removes CONNECT: MemberTimedOut), and room under the channel's userLimit unless the user has MOVE_MEMBERS there.
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
      const access = await loadChannelAccess(tx, channelId, userId, { voiceOnly: true }).catch(
        async (error: unknown) => {
          // A ban ends the membership: say so rather than "not a member".
          if (error instanceof NotAMember && (await tx.count(Ban, { server: error.serverId, user: userId })) > 0)
            throw new UserBanned(error.serverId);
          throw error;
        },
      );
      const target = access.channel;
      const serverId = target.server!.id;
      const { state, limits, banned } = await lockVoice(tx, userId, [channelId], {
        load: false,
        before,
        banCheck: serverId,
      });
      if (banned) throw new UserBanned(serverId);
      access.require(['VIEW_CHANNEL', 'CONNECT']);
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
      if (limit > 0 && !access.has('MOVE_MEMBERS')) {
        const inside = await tx.count(VoiceState, { channel: channelId });
        if (inside >= limit) throw new VoiceChannelFull(channelId, limit);
      }
      return enter(tx, state, target, access.server!.member, opts);
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
  async moveMember(
    actor: UserArg,
    target: UserArg,
    channel: ChannelArg,
    options: ReasonOption = {},
  ): Promise<VoiceState> {
    const actorId = userIdArg(actor, 'actor');
    const targetId = userIdArg(target, 'target');
    const channelId = channelIdArg(channel);
    const reason = reasonOf(options);
    return transact(this.em, async (tx) => {
      // The destination's server (a channel never changes server) names the hierarchy lock to take.
      const [destinationRow] = await tx.execute<{ serverId: string | null }[]>(
        'select "serverId"::text as "serverId" from "Channel" where "id" = ?',
        [channelId],
      );
      const locked = await lockVoice(tx, targetId, [channelId], { hierarchyOf: destinationRow?.serverId ?? undefined });
      const { state, access } = await moderated(tx, locked.state, targetId, actorId);
      const destination = voiceChannel(locked.channels, channelId);
      if (destination.server!.id !== access.server.id) throw new ValidationFailed('channel', 'is in another server');
      const from = locked.channels.get(state.channel.id)!;
      access.require('MOVE_MEMBERS', from);
      access.require(['VIEW_CHANNEL', 'CONNECT', 'MOVE_MEMBERS'], destination);
      const member = await assertCanModerate(tx, access, targetId);
      if (from.id === destination.id) return state;
      const moved = await enter(tx, state, destination, member, {});
      if (targetId !== actorId)
        audit(
          tx,
          access,
          AuditLogAction.MEMBER_MOVE,
          targetId,
          [{ key: 'channel_id', old: from.id, new: destination.id }],
          reason,
        );
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
      const locked = await lockVoice(tx, targetId, [], { hierarchyOf: serverId });
      const { state, access } = await moderated(tx, locked.state, targetId, actorId, serverId);
      access.require('MOVE_MEMBERS', locked.channels.get(state.channel.id));
      await assertCanModerate(tx, access, targetId);
      const channelId = state.channel.id;
      await endStay(tx, state);
      if (targetId !== actorId)
        audit(tx, access, AuditLogAction.MEMBER_DISCONNECT, targetId, [{ key: 'channel_id', old: channelId }], reason);
    });
  }

  /**
   * Changes one's own mute, deafen, video or stream flags. Nothing changed writes nothing. A timed-out
   * member (who is disconnected when the timeout starts, but may still hold a state) may mute and
   * deafen but not un-mute, start video or stream (MemberTimedOut).
   */
  async setSelfState(user: UserArg, changes: SelfVoiceChanges): Promise<VoiceState> {
    const userId = userIdArg(user);
    const opts = validateSelf(changes, false);
    return transact(this.em, async (tx) => {
      const { state } = await lockVoice(tx, userId, [], { load: false });
      if (!state) throw new NotInVoice(userId);
      const transmits = transmitting(opts);
      // Speaking, video and streaming are what a timeout forbids in a call; muting oneself is not.
      if (transmits.length > 0)
        (await loadServerAccess(tx, state.server.id, userId)).requireNotTimedOut(transmits, {
          channelId: state.channel.id,
        });
      if (!applySelf(state, opts)) return state;
      state.lastHeartbeatAt = new Date();
      state.changed();
      return state;
    });
  }

  /** Server-mutes or unmutes `target` (MUTE_MEMBERS in their channel, 'voice' hierarchy). Audit 24 `mute`. */
  serverMute(
    actor: UserArg,
    server: ServerArg,
    target: UserArg,
    mute: boolean,
    options: ReasonOption = {},
  ): Promise<VoiceState> {
    return this.moderateFlag(actor, server, target, 'mute', validateBoolean('mute', mute), options);
  }

  /** Server-deafens or undeafens `target` (DEAFEN_MEMBERS in their channel, 'voice' hierarchy). Audit 24 `deaf`. */
  serverDeafen(
    actor: UserArg,
    server: ServerArg,
    target: UserArg,
    deaf: boolean,
    options: ReasonOption = {},
  ): Promise<VoiceState> {
    return this.moderateFlag(actor, server, target, 'deaf', validateBoolean('deaf', deaf), options);
  }

  private async moderateFlag(
    actor: UserArg,
    server: ServerArg,
    target: UserArg,
    flag: 'mute' | 'deaf',
    value: boolean,
    options: ReasonOption,
  ): Promise<VoiceState> {
    const actorId = userIdArg(actor, 'actor');
    const serverId = idArg(server, 'server');
    const targetId = userIdArg(target, 'target');
    const reason = reasonOf(options);
    return transact(this.em, async (tx) => {
      const locked = await lockVoice(tx, targetId, [], { hierarchyOf: serverId });
      const { state, access } = await moderated(tx, locked.state, targetId, actorId, serverId);
      access.require(flag === 'mute' ? 'MUTE_MEMBERS' : 'DEAFEN_MEMBERS', locked.channels.get(state.channel.id));
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
      const locked = await lockVoice(tx, targetId, [], { hierarchyOf: serverId });
      const { state, access } = await moderated(tx, locked.state, targetId, actorId, serverId);
      const channel = locked.channels.get(state.channel.id)!;
      if (channel.type !== ChannelType.GUILD_STAGE_VOICE) throw new NotAVoiceChannel(channel.id, channel.type);
      const selfStepDown = actorId === targetId && suppress;
      if (!selfStepDown) {
        access.require('MUTE_MEMBERS', channel);
        const member = await assertCanModerate(tx, access, targetId);
        // A timed-out member may not be made a speaker by anyone (the actor's own timeout is in `require`).
        if (!suppress)
          new ServerAccess(access.server, member, member.roles.getItems(), access.everyone).requireNotTimedOut(
            'SPEAK',
            { channelId: channel.id, userId: targetId },
          );
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
    const rows = await this.em.execute<{ userId: string }[]>(
      'update "VoiceState" set "lastHeartbeatAt" = now() where "userId" = ? returning "userId"',
      [userId],
    );
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
    if (Number.isNaN(cutoff.getTime()))
      throw new ValidationFailed('olderThan', 'must be a date or a number of milliseconds');
    const stale = await this.em
      .fork()
      .execute<{ userId: string }[]>(
        'select "userId"::text as "userId" from "VoiceState" where "lastHeartbeatAt" < ? order by "userId"',
        [cutoff],
      );
    let closed = 0;
    for (const { userId } of stale) {
      const ended = await transact(this.em.fork(), async (tx) => {
        const { state } = await lockVoice(tx, userId, [], { load: false });
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
}
