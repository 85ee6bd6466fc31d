import type { EntityManager } from '@mikro-orm/postgresql';
import { LimitReached, NotFound, ValidationFailed } from '../domain/errors';
import { LIMITS } from '../domain/limits';
import { Channel, THREAD_CHANNEL_TYPES } from '../entities/channel/Channel';
import { OverwriteType, type PermissionOverwrite } from '../entities/channel/PermissionOverwrite';
import { Role } from '../entities/server/Role';
import { ServerMember } from '../entities/server/ServerMember';

/** The reads and checks ChannelService's operations share; each runs inside the operation's transaction. */

export interface ChannelFields {
  name?: string;
  topic?: string | null;
  nsfw?: boolean;
  /** Slowmode in seconds. */
  rateLimitPerUser?: number;
  bitrate?: number;
  userLimit?: number;
  /** The category to sit in; null for the top level. */
  parentId?: string | null;
}

export function channelAuditView(channel: Channel) {
  return {
    name: channel.name,
    type: channel.type,
    topic: channel.topic,
    nsfw: channel.nsfw,
    rateLimitPerUser: channel.rateLimitPerUser,
    bitrate: channel.bitrate,
    userLimit: channel.userLimit,
    parentId: channel.parent?.id ?? null,
    position: channel.position,
  };
}

export function overwriteView(o: PermissionOverwrite) {
  return { allow: o.allow.toString(), deny: o.deny.toString() };
}

export function overwriteType(value: unknown): OverwriteType {
  if (value === 'role' || value === OverwriteType.ROLE) return OverwriteType.ROLE;
  if (value === 'member' || value === OverwriteType.MEMBER) return OverwriteType.MEMBER;
  throw new ValidationFailed('type', "must be 'role' or 'member'");
}

export function applyFields(channel: Channel, fields: ChannelFields, premiumTier: number): void {
  if (fields.topic !== undefined) channel.setTopic(fields.topic);
  if (fields.nsfw !== undefined) channel.setNsfw(fields.nsfw);
  if (fields.rateLimitPerUser !== undefined) channel.setSlowmode(fields.rateLimitPerUser);
  if (fields.bitrate !== undefined) channel.setBitrate(fields.bitrate, premiumTier);
  if (fields.userLimit !== undefined) channel.setUserLimit(fields.userLimit);
}

export async function findChannel(tx: EntityManager, serverId: string, channelId: string): Promise<Channel> {
  const channel = await tx.findOne(
    Channel,
    { id: channelId, server: serverId },
    { populate: ['overwrites'], refresh: true },
  );
  if (!channel) throw new NotFound('Channel', channelId);
  if (channel.isThread)
    throw new ValidationFailed('channelId', 'a thread is managed through ThreadService', { channelId });
  return channel;
}

export async function findCategory(tx: EntityManager, serverId: string, parentId: string): Promise<Channel> {
  const parent = await tx.findOne(
    Channel,
    { id: parentId, server: serverId },
    { populate: ['overwrites'], refresh: true },
  );
  if (!parent || !parent.isCategory)
    throw new ValidationFailed('parentId', 'must be a category of this server', { parentId });
  return parent;
}

/** Under the server's channel lock: room for one more channel in the server (when new) and in the category. */
export async function assertRoomFor(
  tx: EntityManager,
  serverId: string,
  parent: Channel | null,
  isNew: boolean,
): Promise<void> {
  if (isNew) {
    // Threads do not count against the 500 channels, as on Discord.
    const total = await tx.count(Channel, { server: serverId, type: { $nin: [...THREAD_CHANNEL_TYPES] } });
    if (total >= LIMITS.channels) throw new LimitReached('channels', LIMITS.channels);
  }
  if (parent) {
    const inCategory = await tx.count(Channel, { parent: parent.id });
    if (inCategory >= LIMITS.channelsPerCategory)
      throw new LimitReached('channelsPerCategory', LIMITS.channelsPerCategory);
  }
}

export async function nextPosition(tx: EntityManager, serverId: string, parentId: string | null): Promise<number> {
  const [row] = await tx.execute<{ next: number }[]>(
    'select coalesce(max("position"), -1) + 1 as "next" from "Channel" where "serverId" = ? and "parentId" is not ' +
      'distinct from ?::bigint',
    [serverId, parentId],
  );
  return Number(row?.next ?? 0);
}

export async function assertTargetInServer(
  tx: EntityManager,
  serverId: string,
  targetId: string,
  type: OverwriteType,
): Promise<void> {
  const found =
    type === OverwriteType.ROLE
      ? await tx.count(Role, { id: targetId, server: serverId })
      : await tx.count(ServerMember, { server: serverId, user: targetId });
  if (found === 0) throw new NotFound(type === OverwriteType.ROLE ? 'Role' : 'ServerMember', targetId);
}
