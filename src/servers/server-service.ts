import { LockMode, ref } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { HierarchyViolation, NotFound, ValidationFailed } from '../domain/errors';
import { userIdOf } from '../domain/identity/ids';
import { DEFAULT_EVERYONE_PERMISSIONS } from '../domain/permissions';
import { validateIntegerIn, validateServerName } from '../domain/servers';
import { membershipLockKey, rolesLockKey } from '../db/lock-keys';
import { lockKeys, transact } from '../db/unit-of-work';
import { Channel, ChannelType } from '../entities/channel/Channel';
import { AuditLogAction, AuditLogEntry, diffChanges, validateAuditReason } from '../entities/server/AuditLogEntry';
import { Role } from '../entities/server/Role';
import { Server } from '../entities/server/Server';
import { loadServerAccess } from '../entities/server/ServerAccess';
import { ServerMember } from '../entities/server/ServerMember';
import { User } from '../entities/user/User';
import {
  type MemberArg,
  memberUserIdArg,
  type ReasonOption,
  type ServerArg,
  serverIdArg,
  type UserArg,
  userIdArg,
} from './args';
import { assertCanJoinAnotherServer } from './server-cap';

export interface NewServer {
  name: string;
  description?: string | null;
}

/** What `updateServer` may change (null clears description, icon and banner). */
export interface ServerChanges {
  name?: string;
  description?: string | null;
  /** An image hash or URL; null removes it. */
  icon?: string | null;
  banner?: string | null;
  /** 0-4, Discord's verification levels. */
  verificationLevel?: number;
}

/** Discord's server description limit. */
export const SERVER_DESCRIPTION_MAX = 120;
/** An icon or banner is a hash or URL; this bounds it. */
export const SERVER_IMAGE_MAX = 2048;

/** Discord's audit log change keys for the fields of ServerChanges. */
const AUDIT_KEYS: Record<keyof ServerChanges | 'owner', string> = {
  name: 'name',
  description: 'description',
  icon: 'icon_hash',
  banner: 'banner_hash',
  verificationLevel: 'verification_level',
  owner: 'owner_id',
};

function optionalText(field: string, value: unknown, max: number): string | null {
  if (value === null) return null;
  if (typeof value !== 'string') throw new ValidationFailed(field, 'must be a string or null');
  const length = [...value].length;
  if (length < 1 || length > max)
    throw new ValidationFailed(field, `must be 1-${max} characters`, { min: 1, max, length });
  // eslint-disable-next-line no-control-regex -- control characters are what this pattern finds
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(value))
    throw new ValidationFailed(field, 'may not contain control characters');
  return value;
}

/** Validates a ServerChanges object: unknown keys and bad values are refused before any query. */
export function validateServerChanges(changes: unknown): ServerChanges {
  if (typeof changes !== 'object' || changes === null || Array.isArray(changes))
    throw new ValidationFailed('changes', 'must be an object');
  const valid: ServerChanges = {};
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) continue;
    switch (key) {
      case 'name':
        valid.name = validateServerName(value);
        break;
      case 'description':
        valid.description = optionalText('description', value, SERVER_DESCRIPTION_MAX);
        break;
      case 'icon':
      case 'banner':
        valid[key] = optionalText(key, value, SERVER_IMAGE_MAX);
        if (valid[key] !== null && /\s/.test(valid[key])) throw new ValidationFailed(key, 'may not contain whitespace');
        break;
      case 'verificationLevel':
        valid.verificationLevel = validateIntegerIn('verificationLevel', value, 0, 4);
        break;
      default:
        throw new ValidationFailed(key, 'is not a server setting that can be changed here');
    }
  }
  return valid;
}

function onlyOwner(action: string, actorId: string, serverId: string): HierarchyViolation {
  return new HierarchyViolation(action, 'only the server owner can do this', {
    actorId,
    serverId,
    refusal: 'not-owner',
  });
}

/** Creating, configuring, handing over and deleting servers. Each method is one unit of work. */
export class ServerService {
  constructor(private readonly em: EntityManager) {}

  /**
   * Creates a server with its @everyone role (the server's id), the owner's membership, and a
   * category holding a text and a voice channel. The owner's server cap is checked under a lock on
   * the owner, the same lock every join takes.
   */
  async createServer(owner: User, input: NewServer): Promise<Server> {
    const ownerId = userIdOf(owner, 'owner');
    const name = validateServerName(input?.name);
    return transact(this.em, async (tx) => {
      const user = await tx.findOneOrFail(User, ownerId, { refresh: true });
      await assertCanJoinAnotherServer(tx, user);
      const server = new Server(user, name);
      server.description = input.description ?? null;
      server.memberCount = 1;
      const everyone = new Role(
        server,
        { name: '@everyone', permissions: DEFAULT_EVERYONE_PERMISSIONS, position: 0 },
        server.id,
      );
      const membership = new ServerMember(server, user);
      const category = new Channel(server, ChannelType.GUILD_CATEGORY, 'Text Channels');
      const text = new Channel(server, ChannelType.GUILD_TEXT, 'general');
      text.parent = ref(category);
      const voiceCategory = new Channel(server, ChannelType.GUILD_CATEGORY, 'Voice Channels');
      voiceCategory.position = 1;
      const voice = new Channel(server, ChannelType.GUILD_VOICE, 'General');
      voice.parent = ref(voiceCategory);
      voice.bitrate = 64_000;
      voice.userLimit = 0;
      tx.persist([server, everyone, membership, category, text, voiceCategory, voice]);
      server.created([everyone], [category, text, voiceCategory, voice]);
      return server;
    });
  }

  /**
   * Changes the server's settings (MANAGE_GUILD). Audit 1 with the changed keys, GUILD_UPDATE. The
   * server row is locked, so the audit entry's old values are the values replaced. A call that
   * changes nothing writes nothing.
   */
  async updateServer(
    actor: UserArg,
    server: ServerArg,
    changes: ServerChanges,
    options: ReasonOption = {},
  ): Promise<Server> {
    const actorId = userIdArg(actor, 'actor');
    const serverId = serverIdArg(server);
    const valid = validateServerChanges(changes);
    const reason = validateAuditReason(options?.reason);
    return transact(this.em, async (tx) => {
      const locked = await tx.findOne(Server, serverId, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
      if (!locked) throw new NotFound('Server', serverId);
      const access = await loadServerAccess(tx, serverId, actorId);
      access.require('MANAGE_GUILD');
      const keys = Object.keys(valid) as (keyof ServerChanges)[];
      const before = Object.fromEntries(keys.map((k) => [AUDIT_KEYS[k], locked[k]]));
      Object.assign(locked, valid);
      const after = Object.fromEntries(keys.map((k) => [AUDIT_KEYS[k], locked[k]]));
      const diff = diffChanges(before, after);
      if (diff.length === 0) return locked;
      locked.updated();
      tx.persist(new AuditLogEntry(locked, access.member.user, AuditLogAction.GUILD_UPDATE, serverId, diff, reason));
      return locked;
    });
  }

  /** Hands the server to another member; only the owner may. Audit 1 (`owner_id`), GUILD_UPDATE. */
  async transferOwnership(
    actor: UserArg,
    server: ServerArg,
    newOwner: MemberArg,
    options: ReasonOption = {},
  ): Promise<Server> {
    const actorId = userIdArg(actor, 'actor');
    const serverId = serverIdArg(server);
    const newOwnerId = memberUserIdArg(newOwner, serverId, 'newOwner');
    const reason = validateAuditReason(options?.reason);
    return transact(this.em, async (tx) => {
      // The new owner's membership lock first (a concurrent leave waits, then sees them as owner), and the
      // hierarchy lock (the owner outranks everyone: a moderation checking ranks waits), then the server row.
      await lockKeys(tx, [membershipLockKey(serverId, newOwnerId), rolesLockKey(serverId)]);
      const locked = await tx.findOne(Server, serverId, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
      if (!locked) throw new NotFound('Server', serverId);
      const access = await loadServerAccess(tx, serverId, actorId);
      if (!locked.isOwner(actorId)) throw onlyOwner('transfer ownership', actorId, serverId);
      if (newOwnerId === actorId) throw new ValidationFailed('newOwner', 'is already the owner');
      const heir = await tx.findOne(ServerMember, { server: serverId, user: newOwnerId }, { refresh: true });
      if (!heir) throw new NotFound('ServerMember', `${serverId}:${newOwnerId}`);
      locked.owner = ref(tx.getReference(User, newOwnerId));
      locked.updated();
      tx.persist(
        new AuditLogEntry(
          locked,
          access.member.user,
          AuditLogAction.GUILD_UPDATE,
          serverId,
          [{ key: AUDIT_KEYS.owner, old: actorId, new: newOwnerId }],
          reason,
        ),
      );
      return locked;
    });
  }

  /**
   * Deletes the server; only the owner may. Its roles, members, channels, overwrites, invites, bans,
   * audit log, emoji and stickers go with it (the foreign keys cascade). GUILD_DELETE.
   */
  async deleteServer(actor: UserArg, server: ServerArg): Promise<void> {
    const actorId = userIdArg(actor, 'actor');
    const serverId = serverIdArg(server);
    await transact(this.em, async (tx) => {
      const locked = await tx.findOne(Server, serverId, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
      if (!locked) throw new NotFound('Server', serverId);
      await loadServerAccess(tx, serverId, actorId); // NotAMember for strangers
      if (!locked.isOwner(actorId)) throw onlyOwner('delete server', actorId, serverId);
      tx.remove(locked);
      locked.deleted();
    });
  }
}
