import type { EntityManager } from '@mikro-orm/postgresql';
import { MissingPermission, NotFound, ValidationFailed } from '../domain/errors';
import { validateIntegerIn } from '../domain/servers';
import { transact } from '../db/unit-of-work';
import { Channel } from '../entities/channel/Channel';
import { AuditLogAction, AuditLogEntry, validateAuditReason } from '../entities/server/AuditLogEntry';
import { Invite } from '../entities/server/Invite';
import { loadServerAccess } from '../entities/server/ServerAccess';
import { User } from '../entities/user/User';
import { type ReasonOption, type UserArg, userIdArg } from './args';

export interface InviteOptions {
  /** Seconds until it expires, 0-604800; 0 = never. Default 86400 (one day), as Discord. */
  maxAge?: number;
  /** 0-100; 0 = unlimited. Default 0. */
  maxUses?: number;
  /** Members who join through it are removed when they disconnect without a role. Default false. */
  temporary?: boolean;
}

export const INVITE_MAX_AGE = 604_800;
export const INVITE_MAX_USES = 100;

export function validateInviteOptions(options: unknown): Required<InviteOptions> {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object') throw new ValidationFailed('options', 'must be an object');
  const { maxAge, maxUses, temporary } = options as InviteOptions;
  if (temporary !== undefined && typeof temporary !== 'boolean')
    throw new ValidationFailed('temporary', 'must be a boolean');
  return {
    maxAge: maxAge === undefined ? 86_400 : validateIntegerIn('maxAge', maxAge, 0, INVITE_MAX_AGE),
    maxUses: maxUses === undefined ? 0 : validateIntegerIn('maxUses', maxUses, 0, INVITE_MAX_USES),
    temporary: temporary ?? false,
  };
}

/** Creating and deleting invites; joining through one is MembershipService.acceptInvite. */
export class InviteService {
  constructor(private readonly em: EntityManager) {}

  /** Creates an invite to a channel (CREATE_INSTANT_INVITE in that channel). Audit 40, INVITE_CREATE. */
  async createInvite(actor: UserArg, channel: Channel | string, options: InviteOptions = {}): Promise<Invite> {
    const actorId = userIdArg(actor, 'actor');
    const channelId = userIdArg(channel, 'channel');
    const valid = validateInviteOptions(options);
    return transact(this.em, async (tx) => {
      const target = await tx.findOne(Channel, channelId, { populate: ['overwrites'], refresh: true });
      if (!target) throw new NotFound('Channel', channelId);
      if (!target.server) throw new ValidationFailed('channel', 'is not a server channel');
      if (target.isCategory) throw new ValidationFailed('channel', 'a category cannot have invites');
      const access = await loadServerAccess(tx, target.server.id, actorId);
      access.require('CREATE_INSTANT_INVITE', target);
      const invite = new Invite(access.server, target, tx.getReference(User, actorId), valid);
      tx.persist(invite);
      invite.created();
      const changes = [
        { key: 'code', new: invite.code },
        { key: 'channel_id', new: target.id },
        { key: 'inviter_id', new: actorId },
        { key: 'uses', new: 0 },
        { key: 'max_uses', new: invite.maxUses },
        { key: 'max_age', new: invite.maxAge },
        { key: 'temporary', new: invite.temporary },
      ];
      tx.persist(
        new AuditLogEntry(access.server, access.member.user, AuditLogAction.INVITE_CREATE, null, changes, null),
      );
      return invite;
    });
  }

  /**
   * Deletes an invite: its inviter may, and so may a member with MANAGE_GUILD, or MANAGE_CHANNELS in
   * the invite's channel. Audit 42, INVITE_DELETE.
   */
  async deleteInvite(actor: UserArg, code: string, options: ReasonOption = {}): Promise<void> {
    const actorId = userIdArg(actor, 'actor');
    if (typeof code !== 'string' || code.length === 0 || code.length > 32)
      throw new ValidationFailed('code', 'must be an invite code');
    const reason = validateAuditReason(options?.reason);
    await transact(this.em, async (tx) => {
      const invite = await tx.findOne(Invite, { code }, { populate: ['channel.overwrites'], refresh: true });
      if (!invite) throw new NotFound('Invite', code);
      const access = await loadServerAccess(tx, invite.server.id, actorId);
      const channel = invite.channel.getEntity();
      const allowed =
        invite.inviter?.id === actorId || access.has('MANAGE_GUILD') || access.has('MANAGE_CHANNELS', channel);
      if (!allowed)
        throw new MissingPermission('MANAGE_CHANNELS', { channelId: channel.id, alternatives: ['MANAGE_GUILD'] });
      tx.remove(invite);
      invite.deleted();
      const changes = [
        { key: 'code', old: invite.code },
        { key: 'channel_id', old: channel.id },
        { key: 'inviter_id', old: invite.inviter?.id ?? null },
        { key: 'uses', old: invite.uses },
        { key: 'max_uses', old: invite.maxUses },
        { key: 'max_age', old: invite.maxAge },
        { key: 'temporary', old: invite.temporary },
      ];
      tx.persist(
        new AuditLogEntry(access.server, access.member.user, AuditLogAction.INVITE_DELETE, null, changes, reason),
      );
    });
  }
}
