import type { EntityManager } from '@mikro-orm/postgresql';
import {
  AlreadyExists,
  AlreadyMember,
  HierarchyViolation,
  InviteInvalid,
  NotAMember,
  NotFound,
  OwnerCannotLeave,
  UserBanned,
  ValidationFailed,
} from '../domain/errors';
import { assertCanActOnMember } from '../domain/permissions';
import { membershipLockKey, rolesLockKey } from '../db/lock-keys';
import { lockKeys, transact } from '../db/unit-of-work';
import { leaveThreadsOfServer } from '../entities/channel/thread-archiver';
import { purgeRecentMessages } from '../messaging/channel-counters';
import { AuditLogAction, AuditLogEntry, validateAuditReason } from '../entities/server/AuditLogEntry';
import { Ban } from '../entities/server/Ban';
import { Server } from '../entities/server/Server';
import { loadServerAccess, rankOf, ServerAccess } from '../entities/server/ServerAccess';
import { ServerMember } from '../entities/server/ServerMember';
import { User } from '../entities/user/User';
import { endVoiceInServer } from '../voice/end-voice';
import {
  type MemberArg,
  memberUserIdArg,
  type ReasonOption,
  type ServerArg,
  serverIdArg,
  type UserArg,
  userIdArg,
} from './args';
import { type BanOptions, validateBanOptions, validateNickname, validateTimeoutUntil } from './membership-input';
import { assertCanJoinAnotherServer } from './server-cap';

const reasonOf = (options: unknown): string | null =>
  validateAuditReason(typeof options === 'object' && options !== null ? (options as ReasonOption).reason : undefined);

/** The atomic memberCount change; runs in the same transaction as the insert or delete it counts. */
async function adjustMemberCount(tx: EntityManager, serverId: string, delta: 1 | -1): Promise<void> {
  await tx.execute('update "Server" set "memberCount" = "memberCount" + ? where "id" = ?', [delta, serverId]);
}

async function findMember(tx: EntityManager, serverId: string, userId: string): Promise<ServerMember | null> {
  return tx.findOne(ServerMember, { server: serverId, user: userId }, { populate: ['roles'], refresh: true });
}

async function requireMember(tx: EntityManager, serverId: string, userId: string): Promise<ServerMember> {
  const member = await findMember(tx, serverId, userId);
  if (!member) throw new NotFound('ServerMember', `${serverId}:${userId}`);
  return member;
}

const audit = (
  tx: EntityManager,
  access: ServerAccess,
  action: AuditLogAction,
  targetId: string | null,
  changes: AuditLogEntry['changes'],
  reason: string | null,
) => tx.persist(new AuditLogEntry(access.server, access.member.user, action, targetId, changes, reason));

/** The server of a usable invite, or InviteInvalid saying why it is not usable. */
async function usableInviteServer(tx: EntityManager, code: string): Promise<string> {
  const [row] = await tx.execute<{ serverId: string; usedUp: boolean; expired: boolean }[]>(
    `select "serverId"::text as "serverId",
            ("maxUses" > 0 and "uses" >= "maxUses") as "usedUp",
            ("expiresAt" is not null and "expiresAt" <= now()) as "expired"
       from "Invite" where "code" = ?`,
    [code],
  );
  if (!row) throw new InviteInvalid('unknown');
  if (row.expired) throw new InviteInvalid('expired');
  if (row.usedUp) throw new InviteInvalid('used_up');
  return row.serverId;
}

/**
 * Joining, leaving and moderating members. Each method is one unit of work: it takes the membership
 * lock (membershipLockKey) first, before any row lock, and a moderation that checks the hierarchy
 * (kick, ban, timeout, another's nickname) takes the server's hierarchy lock (rolesLockKey) in the
 * same statement, so no role change can commit between its check and its write. Lock order is
 * always the one in src/db/lock-keys.ts: those advisory locks, the per-user server-cap lock, the
 * user's voice lock, the Invite row, the Server row. It then reads fresh, checks the
 * actor's computed permissions and the role hierarchy, and writes the change with its audit entry
 * and domain event, or nothing at all.
 */
export class MembershipService {
  constructor(private readonly em: EntityManager) {}

  /**
   * Joins the server of an invite. The invite's use is taken by one atomic
   * `UPDATE ... WHERE (maxUses = 0 OR uses < maxUses) AND not expired`, so concurrent joins can never
   * exceed maxUses (the invite_uses_check constraint backs it). A ban, an existing membership or the
   * server cap refuse the join, and then no use is consumed.
   */
  async acceptInvite(user: UserArg, code: string): Promise<ServerMember> {
    const userId = userIdArg(user);
    if (typeof code !== 'string') throw new ValidationFailed('code', 'must be a string');
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(code)) throw new InviteInvalid('unknown');
    return transact(this.em, async (tx) => {
      const serverId = await usableInviteServer(tx, code);
      await lockKeys(tx, [membershipLockKey(serverId, userId)]);
      const joiner = await tx.findOne(User, userId, { refresh: true });
      if (!joiner) throw new NotFound('User', userId);
      if ((await tx.count(Ban, { server: serverId, user: userId })) > 0) throw new UserBanned(serverId);
      if ((await tx.count(ServerMember, { server: serverId, user: userId })) > 0) throw new AlreadyMember(serverId);
      await assertCanJoinAnotherServer(tx, joiner);
      const used: { serverId: string }[] = await tx.execute(
        `update "Invite" set "uses" = "uses" + 1
          where "code" = ? and ("maxUses" = 0 or "uses" < "maxUses") and ("expiresAt" is null or "expiresAt" > now())
          returning "serverId"::text as "serverId"`,
        [code],
      );
      if (used.length === 0) {
        // Another join took the last use (or it expired or was deleted) since our first read.
        await usableInviteServer(tx, code);
        throw new InviteInvalid('used_up');
      }
      await adjustMemberCount(tx, serverId, 1);
      const member = new ServerMember(tx.getReference(Server, serverId), joiner);
      tx.persist(member);
      member.joined();
      return member;
    });
  }

  /** Leaves a server. The owner must transfer ownership first. */
  async leave(user: UserArg, server: ServerArg): Promise<void> {
    const userId = userIdArg(user);
    const serverId = serverIdArg(server);
    await transact(this.em, async (tx) => {
      await lockKeys(tx, [membershipLockKey(serverId, userId)]);
      const member = await findMember(tx, serverId, userId);
      if (!member) throw new NotAMember(serverId);
      const fresh = await tx.findOneOrFail(Server, serverId, { refresh: true });
      if (fresh.isOwner(userId)) throw new OwnerCannotLeave(serverId);
      await endVoiceInServer(tx, serverId, userId);
      await leaveThreadsOfServer(tx, serverId, userId);
      tx.remove(member);
      member.removed('leave');
      await adjustMemberCount(tx, serverId, -1);
    });
  }

  /** Removes a member (KICK_MEMBERS, and the member ranks strictly below the actor). Audit 20. */
  async kick(actor: UserArg, server: ServerArg, target: MemberArg, options: ReasonOption = {}): Promise<void> {
    const actorId = userIdArg(actor, 'actor');
    const serverId = serverIdArg(server);
    const targetId = memberUserIdArg(target, serverId);
    const reason = reasonOf(options);
    await transact(this.em, async (tx) => {
      await lockKeys(tx, [membershipLockKey(serverId, targetId), rolesLockKey(serverId)]);
      const access = await loadServerAccess(tx, serverId, actorId);
      access.require('KICK_MEMBERS');
      const victim = await requireMember(tx, serverId, targetId);
      assertCanActOnMember(access.rank, rankOf(targetId, victim.roles.getItems()), access.server.owner.id, 'kick');
      await endVoiceInServer(tx, serverId, targetId);
      await leaveThreadsOfServer(tx, serverId, targetId);
      tx.remove(victim);
      victim.removed('kick');
      await adjustMemberCount(tx, serverId, -1);
      audit(tx, access, AuditLogAction.MEMBER_KICK, targetId, [], reason);
    });
  }

  /**
   * Bans a user (BAN_MEMBERS; a member must rank strictly below the actor). As in Discord, a user who
   * is not a member can be banned too. Removes the membership when present. A ban refuses every
   * invite until `unban`. Audit 22, GUILD_BAN_ADD.
   */
  async ban(actor: UserArg, server: ServerArg, target: MemberArg, options: BanOptions): Promise<Ban> {
    const actorId = userIdArg(actor, 'actor');
    const serverId = serverIdArg(server);
    const targetId = memberUserIdArg(target, serverId);
    const { reason, deleteMessageSeconds } = validateBanOptions(options);
    return transact(this.em, async (tx) => {
      await lockKeys(tx, [membershipLockKey(serverId, targetId), rolesLockKey(serverId)]);
      const access = await loadServerAccess(tx, serverId, actorId);
      access.require('BAN_MEMBERS');
      const banned = await tx.findOne(User, targetId, { refresh: true });
      if (!banned) throw new NotFound('User', targetId);
      const victim = await findMember(tx, serverId, targetId);
      // Not a member: neither the actor (a member) nor the owner (always a member), so no rank applies.
      if (victim)
        assertCanActOnMember(access.rank, rankOf(targetId, victim.roles.getItems()), access.server.owner.id, 'ban');
      if ((await tx.count(Ban, { server: serverId, user: targetId })) > 0) throw new AlreadyExists('Ban_pkey');
      const ban = new Ban(access.server, banned, access.member.user, reason);
      tx.persist(ban);
      if (victim) {
        await endVoiceInServer(tx, serverId, targetId);
        await leaveThreadsOfServer(tx, serverId, targetId);
        tx.remove(victim);
        victim.removed('ban');
        await adjustMemberCount(tx, serverId, -1);
      }
      await purgeRecentMessages(tx, serverId, targetId, deleteMessageSeconds);
      access.server.banAdded(targetId, reason, deleteMessageSeconds);
      audit(
        tx,
        access,
        AuditLogAction.MEMBER_BAN_ADD,
        targetId,
        [{ key: 'delete_message_seconds', new: deleteMessageSeconds }],
        reason,
      );
      return ban;
    });
  }

  /** Lifts a ban (BAN_MEMBERS). Audit 23, GUILD_BAN_REMOVE. */
  async unban(actor: UserArg, server: ServerArg, target: UserArg, options: ReasonOption = {}): Promise<void> {
    const actorId = userIdArg(actor, 'actor');
    const serverId = serverIdArg(server);
    const targetId = userIdArg(target, 'target');
    const reason = reasonOf(options);
    await transact(this.em, async (tx) => {
      await lockKeys(tx, [membershipLockKey(serverId, targetId)]);
      const access = await loadServerAccess(tx, serverId, actorId);
      access.require('BAN_MEMBERS');
      const ban = await tx.findOne(Ban, { server: serverId, user: targetId }, { refresh: true });
      if (!ban) throw new NotFound('Ban', `${serverId}:${targetId}`);
      tx.remove(ban);
      access.server.banRemoved(targetId);
      audit(tx, access, AuditLogAction.MEMBER_BAN_REMOVE, targetId, [], reason);
    });
  }

  /**
   * Times a member out until `until` (at most 28 days ahead), or lifts the timeout with null
   * (MODERATE_MEMBERS, hierarchy). As in Discord, a member with ADMINISTRATOR cannot be timed out.
   * Audit 24 with the `communication_disabled_until` change, GUILD_MEMBER_UPDATE; a member in voice in
   * this server is disconnected. A call that changes nothing writes nothing.
   */
  async timeout(
    actor: UserArg,
    server: ServerArg,
    target: MemberArg,
    until: Date | null,
    options: ReasonOption = {},
  ): Promise<ServerMember> {
    const actorId = userIdArg(actor, 'actor');
    const serverId = serverIdArg(server);
    const targetId = memberUserIdArg(target, serverId);
    const end = validateTimeoutUntil(until);
    const reason = reasonOf(options);
    return transact(this.em, async (tx) => {
      await lockKeys(tx, [membershipLockKey(serverId, targetId), rolesLockKey(serverId)]);
      const access = await loadServerAccess(tx, serverId, actorId);
      access.require('MODERATE_MEMBERS');
      const victim = await requireMember(tx, serverId, targetId);
      assertCanActOnMember(access.rank, rankOf(targetId, victim.roles.getItems()), access.server.owner.id, 'timeout');
      if (
        end !== null &&
        new ServerAccess(access.server, victim, victim.roles.getItems(), access.everyone).has('ADMINISTRATOR')
      ) {
        throw new HierarchyViolation('timeout', 'a member with ADMINISTRATOR cannot be timed out', {
          actorId,
          targetId,
          refusal: 'target-is-administrator',
        });
      }
      const before = victim.timedOutUntil?.toISOString() ?? null;
      const after = end?.toISOString() ?? null;
      if (before === after) return victim;
      victim.timedOutUntil = end;
      // As Discord: a member timed out while in a call is disconnected (same lock order as kick).
      if (end !== null) await endVoiceInServer(tx, serverId, targetId);
      victim.updated();
      audit(
        tx,
        access,
        AuditLogAction.MEMBER_UPDATE,
        targetId,
        [{ key: 'communication_disabled_until', old: before, new: after }],
        reason,
      );
      return victim;
    });
  }

  /**
   * Sets or clears (null) a nickname: one's own with CHANGE_NICKNAME, another member's with
   * MANAGE_NICKNAMES when they rank strictly below the actor. Audit 24 (`nick`), GUILD_MEMBER_UPDATE.
   * A call that changes nothing writes nothing.
   */
  async setNickname(
    actor: UserArg,
    server: ServerArg,
    target: MemberArg,
    nickname: string | null,
    options: ReasonOption = {},
  ): Promise<ServerMember> {
    const actorId = userIdArg(actor, 'actor');
    const serverId = serverIdArg(server);
    const targetId = memberUserIdArg(target, serverId);
    const nick = validateNickname(nickname);
    const reason = reasonOf(options);
    return transact(this.em, async (tx) => {
      // Another member's nickname is a moderation: it checks the hierarchy, so it takes the hierarchy lock too.
      await lockKeys(
        tx,
        targetId === actorId
          ? [membershipLockKey(serverId, targetId)]
          : [membershipLockKey(serverId, targetId), rolesLockKey(serverId)],
      );
      const access = await loadServerAccess(tx, serverId, actorId);
      const self = targetId === actorId;
      access.require(self ? 'CHANGE_NICKNAME' : 'MANAGE_NICKNAMES');
      const member = self ? access.member : await requireMember(tx, serverId, targetId);
      if (!self)
        assertCanActOnMember(
          access.rank,
          rankOf(targetId, member.roles.getItems()),
          access.server.owner.id,
          'nickname',
        );
      if (member.nickname === nick) return member;
      const before = member.nickname;
      member.nickname = nick;
      member.updated();
      audit(tx, access, AuditLogAction.MEMBER_UPDATE, targetId, [{ key: 'nick', old: before, new: nick }], reason);
      return member;
    });
  }

  /**
   * The member's own "Allow direct messages from server members" for this server (default on).
   * Private: no audit entry and no GUILD_MEMBER_UPDATE, which the whole server hears. The update
   * takes the membership's row lock, so it waits for a DM send that read the old value under its
   * FOR SHARE lock (see dm-privacy.ts). A call that changes nothing writes nothing.
   */
  async setDirectMessages(user: UserArg, server: ServerArg, allowed: boolean): Promise<ServerMember> {
    const userId = userIdArg(user);
    const serverId = serverIdArg(server);
    if (typeof allowed !== 'boolean') throw new ValidationFailed('allowed', 'must be a boolean');
    return transact(this.em, async (tx) => {
      await lockKeys(tx, [membershipLockKey(serverId, userId)]);
      const member = await tx.findOne(ServerMember, { server: serverId, user: userId }, { refresh: true });
      if (!member) throw new NotAMember(serverId);
      if (member.allowDirectMessages !== allowed) member.allowDirectMessages = allowed;
      return member;
    });
  }
}
