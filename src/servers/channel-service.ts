import { ref } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { NotFound, ValidationFailed } from '../domain/errors';
import { idArg, type IdArg } from '../domain/identity/ids';
import { assertCanGrant, parsePermissions } from '../domain/permissions';
import { maxBitrate } from '../domain/servers';
import { channelsLockKey, overwritesLockKey, rolesLockKey } from '../db/lock-keys';
import { lockKeys, transact } from '../db/unit-of-work';
import {
  Channel,
  CHANNEL_LIMITS,
  ChannelType,
  SERVER_CHANNEL_TYPES,
  THREAD_CHANNEL_TYPES,
} from '../entities/channel/Channel';
import { type OverwriteType, PermissionOverwrite } from '../entities/channel/PermissionOverwrite';
import { AuditLogAction, AuditLogEntry, type AuditChange, diffChanges } from '../entities/server/AuditLogEntry';
import { loadServerAccess, type ServerAccess } from '../entities/server/ServerAccess';
import { User } from '../entities/user/User';
import { endVoiceInChannel } from '../voice/end-voice';
import { auditReasonOf, type ReasonOption, type ServerArg } from './args';
import {
  applyFields,
  assertRoomFor,
  assertTargetInServer,
  channelAuditView as auditView,
  type ChannelFields,
  findCategory,
  findChannel,
  nextPosition,
  overwriteType,
  overwriteView,
} from './channel-rules';

export type { ChannelFields } from './channel-rules';

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

/** An optional parent category: the entity, `{ id }`, its id, or null for the top level. */
const parentIdArg = (parent: IdArg | null | undefined): string | null =>
  parent == null ? null : idArg(parent, 'parentId');

/**
 * Channels of a server and their permission overwrites. Channel structure (create, move, delete,
 * reorder) runs under the server's channel lock (channelsLockKey), so the 500-per-server and
 * 50-per-category limits hold under concurrency. Overwrite changes run under the server's role lock
 * and the channel's overwrite lock. Every operation checks the actor's computed permissions, writes
 * its audit entry and records CHANNEL_CREATE / CHANNEL_UPDATE / CHANNEL_DELETE.
 */
export class ChannelService {
  constructor(private readonly em: EntityManager) {}

  /**
   * Creates a channel at the end of its category (or of the top level). Needs MANAGE_CHANNELS in the
   * server, and in the parent category when one is given. Voice channels default to 64 kbps, no user limit.
   */
  async createChannel(
    actor: IdArg,
    server: ServerArg,
    input: NewChannel,
    options: ReasonOption = {},
  ): Promise<Channel> {
    const actorId = idArg(actor, 'actor');
    const serverId = idArg(server, 'serverId');
    if (typeof input !== 'object' || input === null) throw new ValidationFailed('channel', 'must be an object');
    if (!SERVER_CHANNEL_TYPES.includes(input.type))
      throw new ValidationFailed('type', 'must be a server channel type', { allowed: SERVER_CHANNEL_TYPES });
    const parentId = parentIdArg(input.parentId);
    if (parentId && input.type === ChannelType.GUILD_CATEGORY)
      throw new ValidationFailed('parentId', 'a category cannot sit in a category');
    const reason = auditReasonOf(options);
    return transact(this.em, async (tx) => {
      await lockKeys(tx, [channelsLockKey(serverId)]);
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
      tx.persist(
        new AuditLogEntry(
          access.server,
          tx.getReference(User, actorId),
          AuditLogAction.CHANNEL_CREATE,
          channel.id,
          diffChanges({}, auditView(channel)),
          reason,
        ),
      );
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
  async updateChannel(
    actor: IdArg,
    server: ServerArg,
    channel: IdArg,
    patch: ChannelPatch,
    options: ReasonOption = {},
  ): Promise<Channel> {
    const actorId = idArg(actor, 'actor');
    const serverId = idArg(server, 'serverId');
    const channelId = idArg(channel, 'channelId');
    if (typeof patch !== 'object' || patch === null) throw new ValidationFailed('channel', 'must be an object');
    const newParentId = patch.parentId === undefined ? undefined : parentIdArg(patch.parentId);
    const reason = auditReasonOf(options);
    return transact(this.em, async (tx) => {
      await lockKeys(tx, [channelsLockKey(serverId)]);
      const access = await loadServerAccess(tx, serverId, actorId);
      const channel = await findChannel(tx, serverId, channelId);
      access.require('MANAGE_CHANNELS', channel);
      const before = auditView(channel);
      if (patch.name !== undefined) channel.rename(patch.name);
      applyFields(channel, patch, access.server.premiumTier);
      if (newParentId !== undefined && newParentId !== (channel.parent?.id ?? null)) {
        if (newParentId !== null && channel.isCategory)
          throw new ValidationFailed('parentId', 'a category cannot sit in a category');
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
      tx.persist(
        new AuditLogEntry(
          access.server,
          tx.getReference(User, actorId),
          AuditLogAction.CHANNEL_UPDATE,
          channel.id,
          changes,
          reason,
        ),
      );
      channel.updated();
      return channel;
    });
  }

  /**
   * Deletes a channel (MANAGE_CHANNELS in it) with its overwrites and invites. Deleting a category
   * moves its channels to the top level, each with CHANNEL_UPDATE.
   */
  async deleteChannel(actor: IdArg, server: ServerArg, channel: IdArg, options: ReasonOption = {}): Promise<void> {
    const actorId = idArg(actor, 'actor');
    const serverId = idArg(server, 'serverId');
    const channelId = idArg(channel, 'channelId');
    const reason = auditReasonOf(options);
    await transact(this.em, async (tx) => {
      await lockKeys(tx, [channelsLockKey(serverId)]);
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
      tx.persist(
        new AuditLogEntry(
          access.server,
          tx.getReference(User, actorId),
          AuditLogAction.CHANNEL_DELETE,
          channel.id,
          diffChanges(auditView(channel), {}),
          reason,
        ),
      );
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
   * Reorders the channels of one category (`parent`), or of the top level (null): `channels` lists
   * every channel there, exactly once, in the new order (positions 0..n-1). Needs MANAGE_CHANNELS in
   * each channel that moves. One CHANNEL_UPDATE entry and event per channel that moved.
   */
  async reorderChannels(
    actor: IdArg,
    server: ServerArg,
    parent: IdArg | null,
    channels: readonly IdArg[],
    options: ReasonOption = {},
  ): Promise<Channel[]> {
    const actorId = idArg(actor, 'actor');
    const serverId = idArg(server, 'serverId');
    const parentId = parent === null ? null : idArg(parent, 'parentId');
    if (!Array.isArray(channels) || channels.length === 0)
      throw new ValidationFailed('channelIds', 'must list the channels in their new order');
    const ids = channels.map((id) => idArg(id, 'channelIds'));
    if (new Set(ids).size !== ids.length) throw new ValidationFailed('channelIds', 'lists a channel twice');
    const reason = auditReasonOf(options);
    return transact(this.em, async (tx) => {
      await lockKeys(tx, [channelsLockKey(serverId)]);
      const access = await loadServerAccess(tx, serverId, actorId);
      access.require('MANAGE_CHANNELS');
      if (parentId) await findCategory(tx, serverId, parentId);
      const siblings = await tx.find(
        Channel,
        { server: serverId, parent: parentId },
        { populate: ['overwrites'], refresh: true },
      );
      const byId = new Map(siblings.map((c) => [c.id, c]));
      if (siblings.length !== ids.length || ids.some((id) => !byId.has(id))) {
        throw new ValidationFailed('channelIds', 'must list every channel of the category exactly once', {
          expected: siblings.length,
        });
      }
      const ordered = ids.map((id) => byId.get(id)!);
      const moved = ordered.filter((c, i) => c.position !== i);
      for (const c of moved) access.require('MANAGE_CHANNELS', c);
      ordered.forEach((c, i) => {
        if (c.position === i) return;
        const before = c.position;
        c.position = i;
        tx.persist(
          new AuditLogEntry(
            access.server,
            tx.getReference(User, actorId),
            AuditLogAction.CHANNEL_UPDATE,
            c.id,
            [{ key: 'position', old: before, new: i }],
            reason,
          ),
        );
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
  async setOverwrite(
    actor: IdArg,
    server: ServerArg,
    channel: IdArg,
    input: OverwriteInput,
    options: ReasonOption = {},
  ): Promise<PermissionOverwrite> {
    const actorId = idArg(actor, 'actor');
    const serverId = idArg(server, 'serverId');
    const channelId = idArg(channel, 'channelId');
    if (typeof input !== 'object' || input === null) throw new ValidationFailed('overwrite', 'must be an object');
    const targetId = idArg(input.targetId, 'targetId');
    const type = overwriteType(input.type);
    const allow = input.allow === undefined ? 0n : parsePermissions(input.allow, 'allow');
    const deny = input.deny === undefined ? 0n : parsePermissions(input.deny, 'deny');
    if ((allow & deny) !== 0n) throw new ValidationFailed('allow', 'a permission cannot be both allowed and denied');
    const reason = auditReasonOf(options);
    return transact(this.em, async (tx) => {
      const { access, channel } = await lockForOverwrites(tx, serverId, channelId, actorId);
      await assertTargetInServer(tx, serverId, targetId, type);
      const existing = channel.overwrites.getItems().find((o) => o.targetId === targetId);
      if (existing && existing.type !== type)
        throw new ValidationFailed('type', `the overwrite of ${targetId} is a ${existing.type} overwrite`);
      const changed = existing ? (existing.allow ^ allow) | (existing.deny ^ deny) : allow | deny;
      assertCanGrant(access.permissions(channel), changed);
      if (existing && changed === 0n) return existing;
      const before = existing ? overwriteView(existing) : {};
      const overwrite = existing ?? new PermissionOverwrite(channel, targetId, type, 0n, 0n);
      overwrite.set(allow, deny);
      if (!existing) channel.overwrites.add(overwrite);
      const changes: AuditChange[] = [
        { key: 'id', new: targetId },
        { key: 'type', new: type },
        ...diffChanges(before, overwriteView(overwrite)),
      ];
      const action = existing ? AuditLogAction.CHANNEL_OVERWRITE_UPDATE : AuditLogAction.CHANNEL_OVERWRITE_CREATE;
      tx.persist(new AuditLogEntry(access.server, tx.getReference(User, actorId), action, channel.id, changes, reason));
      channel.updated();
      return overwrite;
    });
  }

  /**
   * Removes the overwrite of `target` (a role or member id), under the rules of `setOverwrite`
   * (every bit it allowed or denied must be the actor's). Audit 15.
   */
  async deleteOverwrite(
    actor: IdArg,
    server: ServerArg,
    channel: IdArg,
    target: IdArg,
    options: ReasonOption = {},
  ): Promise<void> {
    const actorId = idArg(actor, 'actor');
    const serverId = idArg(server, 'serverId');
    const channelId = idArg(channel, 'channelId');
    const targetId = idArg(target, 'targetId');
    const reason = auditReasonOf(options);
    await transact(this.em, async (tx) => {
      const { access, channel } = await lockForOverwrites(tx, serverId, channelId, actorId);
      const existing = channel.overwrites.getItems().find((o) => o.targetId === targetId);
      if (!existing) throw new NotFound('PermissionOverwrite', targetId);
      assertCanGrant(access.permissions(channel), existing.allow | existing.deny);
      const changes: AuditChange[] = [
        { key: 'id', old: targetId },
        { key: 'type', old: existing.type },
        ...diffChanges(overwriteView(existing), {}),
      ];
      tx.persist(
        new AuditLogEntry(
          access.server,
          tx.getReference(User, actorId),
          AuditLogAction.CHANNEL_OVERWRITE_DELETE,
          channel.id,
          changes,
          reason,
        ),
      );
      channel.overwrites.remove(existing);
      channel.updated();
    });
  }
}

async function lockForOverwrites(
  tx: EntityManager,
  serverId: string,
  channelId: string,
  actorId: string,
): Promise<{ access: ServerAccess; channel: Channel }> {
  // The role lock keeps an overwrite from being written for a role deleted at the same moment.
  await lockKeys(tx, [rolesLockKey(serverId), overwritesLockKey(channelId)]);
  const access = await loadServerAccess(tx, serverId, actorId);
  const channel = await findChannel(tx, serverId, channelId);
  access.require('MANAGE_ROLES', channel);
  return { access, channel };
}
