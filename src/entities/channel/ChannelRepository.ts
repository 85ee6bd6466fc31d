import { ref } from '@mikro-orm/core';
import { EntityRepository, type EntityManager } from '@mikro-orm/postgresql';
import { LimitReached, NotFound, ValidationFailed } from '../../domain/errors';
import { snowflakeArg } from '../../domain/identity/ids';
import { LIMITS } from '../../domain/limits';
import { assertCanGrant, parsePermissions } from '../../domain/permissions';
import { maxBitrate } from '../../domain/servers';
import { lockKeys, transact } from '../../db/unit-of-work';
import { AuditLogAction, AuditLogEntry, type AuditChange, diffChanges } from '../server/AuditLogEntry';
import { Role } from '../server/Role';
import { actorIdOf, type Actor } from '../server/RoleRepository';
import { loadServerAccess, type ServerAccess } from '../server/ServerAccess';
import { ServerMember } from '../server/ServerMember';
import { User } from '../user/User';
import { Channel, CHANNEL_LIMITS, ChannelType, SERVER_CHANNEL_TYPES, THREAD_CHANNEL_TYPES } from './Channel';
import { OverwriteType, PermissionOverwrite } from './PermissionOverwrite';
import { endVoiceInChannel } from '../voice/VoiceRepository';

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

export interface NewChannel extends ChannelFields {
  type: ChannelType;
  name: string;
}

export type ChannelPatch = ChannelFields;

export interface OverwriteInput {
  /** A role id (the server id for @everyone) or a member's user id. */
  targetId: string;
  type: 'role' | 'member' | OverwriteType;
  allow?: bigint | string | number;
  deny?: bigint | string | number;
}


function auditView(channel: Channel) {
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

function overwriteView(o: PermissionOverwrite) {
  return { allow: o.allow.toString(), deny: o.deny.toString() };
}

function overwriteType(value: unknown): OverwriteType {
  if (value === 'role' || value === OverwriteType.ROLE) return OverwriteType.ROLE;
  if (value === 'member' || value === OverwriteType.MEMBER) return OverwriteType.MEMBER;
  throw new ValidationFailed('type', "must be 'role' or 'member'");
}

/**
 * Channels of a server and their permission overwrites. Channel structure (create, move, delete,
 * reorder) runs under the server's channel lock (`channels:<serverId>`), so the 500-per-server and
 * 50-per-category limits hold under concurrency. Overwrite changes run under the server's role lock
 * and the channel's overwrite lock. Every operation checks the actor's computed permissions, writes
 * its audit entry and records CHANNEL_CREATE / CHANNEL_UPDATE / CHANNEL_DELETE.
 */
export class ChannelRepository extends EntityRepository<Channel> {
  /**
   * Creates a channel at the end of its category (or of the top level). Needs MANAGE_CHANNELS in the
   * server, and in the parent category when one is given. Voice channels default to 64 kbps, no user limit.
   */
  async createChannel(actor: Actor, serverId: string, input: NewChannel, reason?: string | null): Promise<Channel> {
    const actorId = actorIdOf(actor);
    snowflakeArg(serverId, 'serverId');
    if (typeof input !== 'object' || input === null) throw new ValidationFailed('channel', 'must be an object');
    if (!SERVER_CHANNEL_TYPES.includes(input.type)) throw new ValidationFailed('type', 'must be a server channel type', { allowed: SERVER_CHANNEL_TYPES });
    const parentId = input.parentId == null ? null : snowflakeArg(input.parentId, 'parentId');
    if (parentId && input.type === ChannelType.GUILD_CATEGORY) throw new ValidationFailed('parentId', 'a category cannot sit in a category');
    return transact(this.em, async (tx) => {
      await lockKeys(tx, [`channels:${serverId}`]);
      const access = await loadServerAccess(tx, serverId, actorId);
      access.require('MANAGE_CHANNELS');
      const parent = parentId ? await findCategory(tx, serverId, parentId) : null;
      if (parent) access.require('MANAGE_CHANNELS', parent);
      const channel = new Channel(access.server, input.type, null);
      channel.rename(input.name);
      if (channel.isVoice) {
        channel.bitrate = Math.min(CHANNEL_LIMITS.defaultBitrate, maxBitrate(access.server.premiumTier));
        channel.userLimit = 0;
      }
      applyFields(channel, input, access.server.premiumTier);
      await assertRoomFor(tx, serverId, parent, true);
      if (parent) channel.parent = ref(parent);
      channel.position = await nextPosition(tx, serverId, parent?.id ?? null);
      tx.persist(channel);
      tx.persist(new AuditLogEntry(access.server, tx.getReference(User, actorId), AuditLogAction.CHANNEL_CREATE, channel.id, diffChanges({}, auditView(channel)), reason ?? null));
      channel.overwrites.hydrate([]);
      channel.created();
      return channel;
    });
  }

  /**
   * Changes name, topic, nsfw, slowmode, bitrate, user limit or parent. Needs MANAGE_CHANNELS in the
   * channel, and in the new category when it moves into one (it goes to that category's end). A patch
   * that changes nothing writes nothing.
   */
  async updateChannel(actor: Actor, serverId: string, channelId: string, patch: ChannelPatch, reason?: string | null): Promise<Channel> {
    const actorId = actorIdOf(actor);
    snowflakeArg(serverId, 'serverId');
    snowflakeArg(channelId, 'channelId');
    if (typeof patch !== 'object' || patch === null) throw new ValidationFailed('channel', 'must be an object');
    const newParentId = patch.parentId === undefined ? undefined : patch.parentId === null ? null : snowflakeArg(patch.parentId, 'parentId');
    return transact(this.em, async (tx) => {
      await lockKeys(tx, [`channels:${serverId}`]);
      const access = await loadServerAccess(tx, serverId, actorId);
      const channel = await findChannel(tx, serverId, channelId);
      access.require('MANAGE_CHANNELS', channel);
      const before = auditView(channel);
      if (patch.name !== undefined) channel.rename(patch.name);
      applyFields(channel, patch, access.server.premiumTier);
      if (newParentId !== undefined && newParentId !== (channel.parent?.id ?? null)) {
        if (newParentId !== null && channel.isCategory) throw new ValidationFailed('parentId', 'a category cannot sit in a category');
        const parent = newParentId ? await findCategory(tx, serverId, newParentId) : null;
        if (parent) {
          access.require('MANAGE_CHANNELS', parent);
          await assertRoomFor(tx, serverId, parent, false);
        }
        channel.position = await nextPosition(tx, serverId, newParentId);
        channel.parent = parent ? ref(parent) : null;
      }
      const changes = diffChanges(before, auditView(channel));
      if (changes.length === 0) return channel;
      tx.persist(new AuditLogEntry(access.server, tx.getReference(User, actorId), AuditLogAction.CHANNEL_UPDATE, channel.id, changes, reason ?? null));
      channel.updated();
      return channel;
    });
  }

  /**
   * Deletes a channel (MANAGE_CHANNELS in it) with its overwrites and invites. Deleting a category
   * moves its channels to the top level, each with CHANNEL_UPDATE.
   */
  async deleteChannel(actor: Actor, serverId: string, channelId: string, reason?: string | null): Promise<void> {
    const actorId = actorIdOf(actor);
    snowflakeArg(serverId, 'serverId');
    snowflakeArg(channelId, 'channelId');
    await transact(this.em, async (tx) => {
      await lockKeys(tx, [`channels:${serverId}`]);
      const access = await loadServerAccess(tx, serverId, actorId);
      const channel = await findChannel(tx, serverId, channelId);
      access.require('MANAGE_CHANNELS', channel);
      if (channel.isCategory) {
        const children = await tx.find(Channel, { parent: channel.id }, { populate: ['overwrites'], refresh: true });
        for (const child of children) {
          child.parent = null;
          child.updated();
        }
      }
      tx.persist(new AuditLogEntry(access.server, tx.getReference(User, actorId), AuditLogAction.CHANNEL_DELETE, channel.id, diffChanges(auditView(channel), {}), reason ?? null));
      if (channel.isVoice) await endVoiceInChannel(tx, channel.id);
      // Threads live and die with their parent channel, as on Discord.
      for (const thread of await tx.find(Channel, { parent: channel.id, type: { $in: [...THREAD_CHANNEL_TYPES] } })) {
        thread.threadDeleted();
        tx.remove(thread);
      }
      channel.deleted();
      tx.remove(channel);
    });
  }

  /**
   * Reorders the channels of one category (`parentId`), or of the top level (null): `channelIds` lists
   * every channel there, exactly once, in the new order (positions 0..n-1). Needs MANAGE_CHANNELS in
   * each channel that moves. One CHANNEL_UPDATE entry and event per channel that moved.
   */
  async reorderChannels(actor: Actor, serverId: string, parentId: string | null, channelIds: string[], reason?: string | null): Promise<Channel[]> {
    const actorId = actorIdOf(actor);
    snowflakeArg(serverId, 'serverId');
    if (parentId !== null) snowflakeArg(parentId, 'parentId');
    if (!Array.isArray(channelIds) || channelIds.length === 0) throw new ValidationFailed('channelIds', 'must list the channels in their new order');
    const ids = channelIds.map((id) => snowflakeArg(id, 'channelIds'));
    if (new Set(ids).size !== ids.length) throw new ValidationFailed('channelIds', 'lists a channel twice');
    return transact(this.em, async (tx) => {
      await lockKeys(tx, [`channels:${serverId}`]);
      const access = await loadServerAccess(tx, serverId, actorId);
      access.require('MANAGE_CHANNELS');
      if (parentId) await findCategory(tx, serverId, parentId);
      const siblings = await tx.find(Channel, { server: serverId, parent: parentId }, { populate: ['overwrites'], refresh: true });
      const byId = new Map(siblings.map((c) => [c.id, c]));
      if (siblings.length !== ids.length || ids.some((id) => !byId.has(id))) {
        throw new ValidationFailed('channelIds', 'must list every channel of the category exactly once', { expected: siblings.length });
      }
      const ordered = ids.map((id) => byId.get(id)!);
      const moved = ordered.filter((c, i) => c.position !== i);
      for (const c of moved) access.require('MANAGE_CHANNELS', c);
      ordered.forEach((c, i) => {
        if (c.position === i) return;
        const before = c.position;
        c.position = i;
        tx.persist(new AuditLogEntry(access.server, tx.getReference(User, actorId), AuditLogAction.CHANNEL_UPDATE, c.id, [{ key: 'position', old: before, new: i }], reason ?? null));
        c.updated();
      });
      return ordered;
    });
  }

  /**
   * Creates or replaces the overwrite of a role (of this server; the server id for @everyone) or a
   * member on a channel. Needs MANAGE_ROLES in the channel; every bit whose allow or deny changes must
   * be one the actor has in the channel, unless they are an administrator or the owner.
   * Audit 13 (create) or 14 (update), CHANNEL_UPDATE. Writing the same bits again writes nothing.
   */
  async setOverwrite(actor: Actor, serverId: string, channelId: string, input: OverwriteInput, reason?: string | null): Promise<PermissionOverwrite> {
    const actorId = actorIdOf(actor);
    snowflakeArg(serverId, 'serverId');
    snowflakeArg(channelId, 'channelId');
    if (typeof input !== 'object' || input === null) throw new ValidationFailed('overwrite', 'must be an object');
    const targetId = snowflakeArg(input.targetId, 'targetId');
    const type = overwriteType(input.type);
    const allow = input.allow === undefined ? 0n : parsePermissions(input.allow, 'allow');
    const deny = input.deny === undefined ? 0n : parsePermissions(input.deny, 'deny');
    if ((allow & deny) !== 0n) throw new ValidationFailed('allow', 'a permission cannot be both allowed and denied');
    return transact(this.em, async (tx) => {
      const { access, channel } = await this.lockForOverwrites(tx, serverId, channelId, actorId);
      await assertTargetInServer(tx, serverId, targetId, type);
      const existing = channel.overwrites.getItems().find((o) => o.targetId === targetId);
      if (existing && existing.type !== type) throw new ValidationFailed('type', `the overwrite of ${targetId} is a ${existing.type} overwrite`);
      const changed = existing ? (existing.allow ^ allow) | (existing.deny ^ deny) : allow | deny;
      assertCanGrant(access.permissions(channel), changed);
      if (existing && changed === 0n) return existing;
      const before = existing ? overwriteView(existing) : {};
      const overwrite = existing ?? new PermissionOverwrite(channel, targetId, type, 0n, 0n);
      overwrite.set(allow, deny);
      if (!existing) channel.overwrites.add(overwrite);
      const changes: AuditChange[] = [{ key: 'id', new: targetId }, { key: 'type', new: type }, ...diffChanges(before, overwriteView(overwrite))];
      const action = existing ? AuditLogAction.CHANNEL_OVERWRITE_UPDATE : AuditLogAction.CHANNEL_OVERWRITE_CREATE;
      tx.persist(new AuditLogEntry(access.server, tx.getReference(User, actorId), action, channel.id, changes, reason ?? null));
      channel.updated();
      return overwrite;
    });
  }

  /** Removes an overwrite, under the rules of `setOverwrite` (every bit it allowed or denied must be the actor's). Audit 15. */
  async deleteOverwrite(actor: Actor, serverId: string, channelId: string, targetId: string, reason?: string | null): Promise<void> {
    const actorId = actorIdOf(actor);
    snowflakeArg(serverId, 'serverId');
    snowflakeArg(channelId, 'channelId');
    snowflakeArg(targetId, 'targetId');
    await transact(this.em, async (tx) => {
      const { access, channel } = await this.lockForOverwrites(tx, serverId, channelId, actorId);
      const existing = channel.overwrites.getItems().find((o) => o.targetId === targetId);
      if (!existing) throw new NotFound('PermissionOverwrite', targetId);
      assertCanGrant(access.permissions(channel), existing.allow | existing.deny);
      const changes: AuditChange[] = [{ key: 'id', old: targetId }, { key: 'type', old: existing.type }, ...diffChanges(overwriteView(existing), {})];
      tx.persist(new AuditLogEntry(access.server, tx.getReference(User, actorId), AuditLogAction.CHANNEL_OVERWRITE_DELETE, channel.id, changes, reason ?? null));
      channel.overwrites.remove(existing);
      channel.updated();
    });
  }

  /** The server's channels by position (categories and their channels alike), with overwrites. */
  async channelsOf(serverId: string): Promise<Channel[]> {
    snowflakeArg(serverId, 'serverId');
    return this.em.find(Channel, { server: serverId, type: { $nin: [...THREAD_CHANNEL_TYPES] } }, { populate: ['overwrites'], orderBy: { position: 'asc', id: 'asc' } });
  }

  private async lockForOverwrites(tx: EntityManager, serverId: string, channelId: string, actorId: string): Promise<{ access: ServerAccess; channel: Channel }> {
    // The role lock keeps an overwrite from being written for a role deleted at the same moment.
    await lockKeys(tx, [`roles:${serverId}`, `overwrites:${channelId}`]);
    const access = await loadServerAccess(tx, serverId, actorId);
    const channel = await findChannel(tx, serverId, channelId);
    access.require('MANAGE_ROLES', channel);
    return { access, channel };
  }
}

function applyFields(channel: Channel, fields: ChannelFields, premiumTier: number): void {
  if (fields.topic !== undefined) channel.setTopic(fields.topic);
  if (fields.nsfw !== undefined) channel.setNsfw(fields.nsfw);
  if (fields.rateLimitPerUser !== undefined) channel.setSlowmode(fields.rateLimitPerUser);
  if (fields.bitrate !== undefined) channel.setBitrate(fields.bitrate, premiumTier);
  if (fields.userLimit !== undefined) channel.setUserLimit(fields.userLimit);
}

async function findChannel(tx: EntityManager, serverId: string, channelId: string): Promise<Channel> {
  const channel = await tx.findOne(Channel, { id: channelId, server: serverId }, { populate: ['overwrites'], refresh: true });
  if (!channel) throw new NotFound('Channel', channelId);
  if (channel.isThread) throw new ValidationFailed('channelId', 'a thread is managed through ThreadRepository', { channelId });
  return channel;
}

async function findCategory(tx: EntityManager, serverId: string, parentId: string): Promise<Channel> {
  const parent = await tx.findOne(Channel, { id: parentId, server: serverId }, { populate: ['overwrites'], refresh: true });
  if (!parent || !parent.isCategory) throw new ValidationFailed('parentId', 'must be a category of this server', { parentId });
  return parent;
}

/** Under the server's channel lock: room for one more channel in the server (when new) and in the category. */
async function assertRoomFor(tx: EntityManager, serverId: string, parent: Channel | null, isNew: boolean): Promise<void> {
  if (isNew) {
    // Threads do not count against the 500 channels, as on Discord.
    const total = await tx.count(Channel, { server: serverId, type: { $nin: [...THREAD_CHANNEL_TYPES] } });
    if (total >= LIMITS.channels) throw new LimitReached('channels', LIMITS.channels);
  }
  if (parent) {
    const inCategory = await tx.count(Channel, { parent: parent.id });
    if (inCategory >= LIMITS.channelsPerCategory) throw new LimitReached('channelsPerCategory', LIMITS.channelsPerCategory);
  }
}

async function nextPosition(tx: EntityManager, serverId: string, parentId: string | null): Promise<number> {
  const [row] = await tx.execute<{ next: number }[]>(
    'select coalesce(max("position"), -1) + 1 as "next" from "Channel" where "serverId" = ? and "parentId" is not distinct from ?::bigint',
    [serverId, parentId],
  );
  return Number(row?.next ?? 0);
}

async function assertTargetInServer(tx: EntityManager, serverId: string, targetId: string, type: OverwriteType): Promise<void> {
  const found =
    type === OverwriteType.ROLE
      ? await tx.count(Role, { id: targetId, server: serverId })
      : await tx.count(ServerMember, { server: serverId, user: targetId });
  if (found === 0) throw new NotFound(type === OverwriteType.ROLE ? 'Role' : 'ServerMember', targetId);
}
