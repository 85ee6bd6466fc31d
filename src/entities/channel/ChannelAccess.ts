import type { EntityManager } from '@mikro-orm/postgresql';
import { NotARecipient, NotATextChannel, NotFound } from '../../domain/errors';
import { idArg } from '../../domain/identity/ids';
import { assertPermissions, DM_PERMISSIONS, type PermissionName, PermissionFlags } from '../../domain/permissions';
import { loadServerAccess, type ServerAccess } from '../server/ServerAccess';
import { Channel } from './Channel';
import { ChannelRecipient } from './ChannelRecipient';
import { ThreadMember } from './ThreadMember';

/**
 * What one user may do in one channel of any kind: a server channel (roles and overwrites), a thread
 * (its parent's overwrites, the thread rules), or a DM / group DM (recipients only, the fixed DM set).
 * Loaded fresh inside the operation's transaction; message, reaction and thread operations ask it
 * before they act.
 */
export class ChannelAccess {
  constructor(
    readonly channel: Channel,
    readonly userId: string,
    readonly permissions: bigint,
    /** The member's server access; null in DMs. */
    readonly server: ServerAccess | null,
    /** A thread's parent channel (with its overwrites); null otherwise. */
    readonly parent: Channel | null,
    readonly threadMember: boolean,
    /** A DM's or group DM's recipients (events go to them by name); empty elsewhere. */
    readonly recipientIds: readonly string[] = [],
  ) {}

  has(permission: PermissionName): boolean {
    return (this.permissions & PermissionFlags[permission]) !== 0n;
  }

  /** Throws MissingPermission naming every permission lacking. */
  require(permissions: PermissionName | readonly PermissionName[]): void {
    const names = typeof permissions === 'string' ? [permissions] : permissions;
    assertPermissions(this.permissions, names.reduce((bits, name) => bits | PermissionFlags[name], 0n), { channelId: this.channel.id });
  }

  /** The channel whose settings (slowmode excepted) govern it: the parent of a thread, else itself. */
  get governing(): Channel {
    return this.parent ?? this.channel;
  }
}

export interface LoadChannelAccessOptions {
  /** Refuse channels that hold no messages (categories, forums): NotATextChannel. */
  textOnly?: boolean;
}

/**
 * Loads a channel and the user's permissions in it. NotFound when the channel does not exist;
 * NotAMember (server channels) or NotARecipient (DMs) when the user is not in it. A channel the
 * user cannot view is still returned: callers require VIEW_CHANNEL themselves, so the refusal names it.
 */
export async function loadChannelAccess(tx: EntityManager, channelArg: unknown, userArg: unknown, options: LoadChannelAccessOptions = {}): Promise<ChannelAccess> {
  const channelId = idArg(channelArg, 'channel');
  const userId = idArg(userArg, 'user');
  const channel = await tx.findOne(Channel, { id: channelId }, { populate: ['overwrites'], refresh: true });
  if (!channel) throw new NotFound('Channel', channelId);
  if (options.textOnly && !channel.holdsMessages) throw new NotATextChannel(channelId, channel.type);

  if (channel.isPrivate) {
    const recipients = await tx.find(ChannelRecipient, { channel: channelId }, { refresh: true });
    const recipientIds = recipients.map((r) => r.user.id);
    if (!recipientIds.includes(userId)) throw new NotARecipient(channelId);
    return new ChannelAccess(channel, userId, DM_PERMISSIONS, null, null, false, recipientIds);
  }

  const server = await loadServerAccess(tx, channel.server!.id, userId);
  if (!channel.isThread) return new ChannelAccess(channel, userId, server.permissions(channel), server, null, false);

  const parent = channel.parent ? await tx.findOne(Channel, { id: channel.parent.id }, { populate: ['overwrites'], refresh: true }) : null;
  if (!parent) throw new NotFound('Channel', channelId);
  const joined = (await tx.count(ThreadMember, { thread: channelId, user: userId })) > 0;
  const permissions = server.permissions(channel, { overwritesFrom: parent, member: joined });
  return new ChannelAccess(channel, userId, permissions, server, parent, joined);
}
