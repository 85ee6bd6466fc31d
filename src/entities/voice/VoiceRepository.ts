import type { Ref } from '@mikro-orm/core';
import { EntityRepository } from '@mikro-orm/postgresql';
import { ValidationFailed } from '../../domain/errors';
import { idArg } from '../../domain/identity/ids';
import type { Channel } from '../channel/Channel';
import type { ServerArg, UserArg } from '../server/MembershipRepository';
import { VoiceSession } from './VoiceSession';
import { VoiceState } from './VoiceState';

/** A channel: the entity, a reference to it, or its id. */
export type ChannelArg = Channel | Ref<Channel> | { readonly id: string } | string;

export interface VoiceTimePeriod {
  from: Date;
  to: Date;
}

const userIdArg = (user: unknown, field = 'user') => idArg(user, field);
const channelIdArg = (channel: unknown, field = 'channel') => idArg(channel, field);

/**
 * Queries about voice: who is where, and the session history. Joining, leaving, moving and
 * moderating are use cases: see VoiceService (src/voice).
 */
export class VoiceRepository extends EntityRepository<VoiceState> {
  /** Who is in a channel, by join time. */
  async statesIn(channel: ChannelArg): Promise<VoiceState[]> {
    return this.em.find(VoiceState, { channel: channelIdArg(channel) }, { orderBy: { joinedAt: 'asc', user: 'asc' } });
  }

  /** Who is in any voice channel of a server (one query), by channel then join time. */
  async statesInServer(server: ServerArg): Promise<VoiceState[]> {
    return this.em.find(
      VoiceState,
      { server: idArg(server, 'server') },
      { orderBy: { channel: 'asc', joinedAt: 'asc', user: 'asc' } },
    );
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
    if (
      !(period?.from instanceof Date) ||
      !(period?.to instanceof Date) ||
      Number.isNaN(period.from.getTime()) ||
      Number.isNaN(period.to.getTime())
    ) {
      throw new ValidationFailed('period', 'needs from and to dates');
    }
    if (period.to.getTime() < period.from.getTime()) throw new ValidationFailed('period', 'ends before it starts');
    const [row] = await this.em.execute<{ seconds: string | null }[]>(
      `select coalesce(sum(extract(epoch from (least(coalesce("endedAt", now()), ?::timestamptz) - greatest("startedAt",
        ?::timestamptz)))), 0)::float8 as seconds
         from "VoiceSession"
        where "serverId" = ? and "userId" = ? and "startedAt" < ?::timestamptz and coalesce("endedAt",
          now()) > ?::timestamptz`,
      [period.to, period.from, serverId, userId, period.to, period.from],
    );
    return Math.floor(Number(row?.seconds ?? 0));
  }

  /** Sessions of a user in a server, newest first (history). */
  async sessionsOf(user: UserArg, server: ServerArg, options: { limit?: number } = {}): Promise<VoiceSession[]> {
    const limit = options.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new ValidationFailed('limit', 'must be 1-1000');
    return this.em.find(
      VoiceSession,
      { user: userIdArg(user), server: idArg(server, 'server') },
      { orderBy: { startedAt: 'desc', id: 'desc' }, limit },
    );
  }
}
