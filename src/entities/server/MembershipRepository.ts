import { type Ref } from '@mikro-orm/core';
import { EntityRepository, type EntityManager } from '@mikro-orm/postgresql';
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
} from '../../domain/errors';
import { idArg } from '../../domain/identity/ids';
import { assertCanActOnMember } from '../../domain/permissions';
import { MAX_TIMEOUT_MS, validateIntegerIn } from '../../domain/servers';
import { lockKeys, transact } from '../../db/unit-of-work';
import { User } from '../user/User';
import { AuditLogAction, AuditLogEntry, validateAuditReason } from './AuditLogEntry';
import { Ban } from './Ban';
import { Server } from './Server';
import { loadServerAccess, rankOf, ServerAccess } from './ServerAccess';
import { assertCanJoinAnotherServer } from './ServerRepository';
import { ServerMember } from './ServerMember';
import { endVoiceInServer } from '../voice/VoiceRepository';
import { leaveThreadsOfServer } from '../channel/thread-archiver';
import { purgeRecentMessages } from '../../messaging/channel-counters';

/** A user: the entity, a reference to it, or its id. */
export type UserArg = User | Ref<User> | string;
/** A server: the entity, a reference to it, or its id. */
export type ServerArg = Server | Ref<Server> | { readonly id: string } | string;
/** The member acted on: their membership, their user (entity or reference), or their user id. */
export type MemberArg = ServerMember | User | Ref<User> | string;

export interface ReasonOption {
  /** The audit log reason, 1-512 characters. */
  reason?: string | null;
}

export interface BanOptions {
  /** Required: 1-512 characters. */
  reason: string;
  /**
   * How many seconds of the user's most recent messages to delete, 0-604800 (7 days). Validated and
   * recorded now (audit entry change `delete_message_seconds` and the GUILD_BAN_ADD payload);
   * messages arrive in a later issue, whose deletion will act on this value.
   */
  deleteMessageSeconds?: number;
}

/** Discord's limit for a ban's message deletion window (7 days). */
export const MAX_BAN_DELETE_MESSAGE_SECONDS = 604_800;
export const NICKNAME_MAX = 32;

export const userIdArg = (user: unknown, field = 'user'): string => idArg(user, field);
export const serverIdArg = (server: unknown, field = 'server'): string => idArg(server, field);

/** The user id of the member acted on; a membership of another server is refused. */
export function memberUserIdArg(target: unknown, serverId: string, field = 'target'): string {
  if (target instanceof ServerMember) {
    if (target.server.id !== serverId) throw new ValidationFailed(field, 'is a member of another server');
    return target.user.id;
  }
  return idArg(target, field);
}

function memberCursor(after: unknown): { joinedAt: Date; userId: string } {
  if (after instanceof ServerMember) return { joinedAt: after.joinedAt, userId: after.user.id };
  const cursor = after as { joinedAt?: unknown; userId?: unknown } | null;
  if (typeof cursor !== 'object' || cursor === null || !(cursor.joinedAt instanceof Date) || Number.isNaN(cursor.joinedAt.getTime())) {
    throw new ValidationFailed('after', 'must be a member, or { joinedAt: Date, userId }');
  }
  return { joinedAt: cursor.joinedAt, userId: userIdArg(cursor.userId, 'after.userId') };
}

/** Nickname: null clears it; otherwise 1-32 characters after trimming, no control characters. */
export function validateNickname(value: unknown): string | null {
  if (value === null) return null;
  if (typeof value !== 'string') throw new ValidationFailed('nickname', 'must be a string or null');
  const nick = value.trim();
  const length = [...nick].length;
  if (length < 1 || length > NICKNAME_MAX) throw new ValidationFailed('nickname', `must be 1-${NICKNAME_MAX} characters`, { min: 1, max: NICKNAME_MAX, length });
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(nick)) throw new ValidationFailed('nickname', 'may not contain control characters');
  return nick;
}

/** A timeout's end: null clears it; otherwise a moment in the future, at most 28 days away. */
export function validateTimeoutUntil(value: unknown, now: number = Date.now()): Date | null {
  if (value === null) return null;
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw new ValidationFailed('timedOutUntil', 'must be a date or null');
  const ms = value.getTime() - now;
  if (ms <= 0) throw new ValidationFailed('timedOutUntil', 'must be in the future');
  if (ms > MAX_TIMEOUT_MS) throw new ValidationFailed('timedOutUntil', 'must be at most 28 days away', { maxMs: MAX_TIMEOUT_MS });
  return new Date(value.getTime());
}

export function validateBanOptions(options: unknown): { reason: string; deleteMessageSeconds: number } {
  if (typeof options !== 'object' || options === null) throw new ValidationFailed('reason', 'is required');
  const { reason, deleteMessageSeconds } = options as Partial<BanOptions>;
  if (reason === undefined || reason === null) throw new ValidationFailed('reason', 'is required');
  return {
    reason: validateAuditReason(reason) as string,
    deleteMessageSeconds: deleteMessageSeconds === undefined ? 0 : validateIntegerIn('deleteMessageSeconds', deleteMessageSeconds, 0, MAX_BAN_DELETE_MESSAGE_SECONDS),
  };
}

const reasonOf = (options: unknown): string | null =>
  validateAuditReason(typeof options === 'object' && options !== null ? (options as ReasonOption).reason : undefined);

/**
 * The lock every change to one user's membership of one server takes first (join, leave, kick, ban,
 * unban, timeout, nickname, ownership transfer): it serialises a ban against a join of the same
 * user, and a leave against a transfer to the leaver. Taken before any row lock, so lock order is
 * always: this advisory lock, the per-user server-cap lock, the Invite row, the Server row.
 */
export const membershipLockKey = (serverId: string, userId: string) => `member:${serverId}:${userId}`;

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

const audit = (tx: EntityManager, access: ServerAccess, action: AuditLogAction, targetId: string | null, changes: AuditLogEntry['changes'], reason: string | null) =>
  tx.persist(new AuditLogEntry(access.server, access.member.user, action, targetId, changes, reason));

/**
 * Joining, leaving and moderating members. Each method is one unit of work: it locks the
 * membership, reads fresh, checks the actor's computed permissions and the role hierarchy, then
 * writes the change with its audit entry and domain event, or nothing at all.
 */
export class MembershipRepository extends EntityRepository<ServerMember> {
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
      const serverId = await this.usableInviteServer(tx, code);
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
        await this.usableInviteServer(tx, code);
        throw new InviteInvalid('used_up');
      }
      await adjustMemberCount(tx, serverId, 1);
      const member = new ServerMember(tx.getReference(Server, serverId), joiner);
      tx.persist(member);
      member.joined();
      return member;
    });
  }

  /** The server of a usable invite, or InviteInvalid saying why it is not usable. */
  private async usableInviteServer(tx: EntityManager, code: string): Promise<string> {
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
      await lockKeys(tx, [membershipLockKey(serverId, targetId)]);
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
      await lockKeys(tx, [membershipLockKey(serverId, targetId)]);
      const access = await loadServerAccess(tx, serverId, actorId);
      access.require('BAN_MEMBERS');
      const banned = await tx.findOne(User, targetId, { refresh: true });
      if (!banned) throw new NotFound('User', targetId);
      const victim = await findMember(tx, serverId, targetId);
      // Not a member: neither the actor (a member) nor the owner (always a member), so no rank applies.
      if (victim) assertCanActOnMember(access.rank, rankOf(targetId, victim.roles.getItems()), access.server.owner.id, 'ban');
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
      audit(tx, access, AuditLogAction.MEMBER_BAN_ADD, targetId, [{ key: 'delete_message_seconds', new: deleteMessageSeconds }], reason);
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
   * Audit 24 with the `communication_disabled_until` change, GUILD_MEMBER_UPDATE. A call that changes
   * nothing writes nothing.
   */
  async timeout(actor: UserArg, server: ServerArg, target: MemberArg, until: Date | null, options: ReasonOption = {}): Promise<ServerMember> {
    const actorId = userIdArg(actor, 'actor');
    const serverId = serverIdArg(server);
    const targetId = memberUserIdArg(target, serverId);
    const end = validateTimeoutUntil(until);
    const reason = reasonOf(options);
    return transact(this.em, async (tx) => {
      await lockKeys(tx, [membershipLockKey(serverId, targetId)]);
      const access = await loadServerAccess(tx, serverId, actorId);
      access.require('MODERATE_MEMBERS');
      const victim = await requireMember(tx, serverId, targetId);
      assertCanActOnMember(access.rank, rankOf(targetId, victim.roles.getItems()), access.server.owner.id, 'timeout');
      if (end !== null && new ServerAccess(access.server, victim, victim.roles.getItems(), access.everyone).has('ADMINISTRATOR')) {
        throw new HierarchyViolation('timeout', 'a member with ADMINISTRATOR cannot be timed out', { actorId, targetId, refusal: 'target-is-administrator' });
      }
      const before = victim.timedOutUntil?.toISOString() ?? null;
      const after = end?.toISOString() ?? null;
      if (before === after) return victim;
      victim.timedOutUntil = end;
      victim.updated();
      audit(tx, access, AuditLogAction.MEMBER_UPDATE, targetId, [{ key: 'communication_disabled_until', old: before, new: after }], reason);
      return victim;
    });
  }

  /**
   * Sets or clears (null) a nickname: one's own with CHANGE_NICKNAME, another member's with
   * MANAGE_NICKNAMES when they rank strictly below the actor. Audit 24 (`nick`), GUILD_MEMBER_UPDATE.
   * A call that changes nothing writes nothing.
   */
  async setNickname(actor: UserArg, server: ServerArg, target: MemberArg, nickname: string | null, options: ReasonOption = {}): Promise<ServerMember> {
    const actorId = userIdArg(actor, 'actor');
    const serverId = serverIdArg(server);
    const targetId = memberUserIdArg(target, serverId);
    const nick = validateNickname(nickname);
    const reason = reasonOf(options);
    return transact(this.em, async (tx) => {
      await lockKeys(tx, [membershipLockKey(serverId, targetId)]);
      const access = await loadServerAccess(tx, serverId, actorId);
      const self = targetId === actorId;
      access.require(self ? 'CHANGE_NICKNAME' : 'MANAGE_NICKNAMES');
      const member = self ? access.member : await requireMember(tx, serverId, targetId);
      if (!self) assertCanActOnMember(access.rank, rankOf(targetId, member.roles.getItems()), access.server.owner.id, 'nickname');
      if (member.nickname === nick) return member;
      const before = member.nickname;
      member.nickname = nick;
      member.updated();
      audit(tx, access, AuditLogAction.MEMBER_UPDATE, targetId, [{ key: 'nick', old: before, new: nick }], reason);
      return member;
    });
  }

  // Queries.

  /** Members of a server by join date (the ServerMember_serverId_joinedAt_index). */
  /**
   * Members by join date, a page at a time. Pass the last member of a page as `after` for the next:
   * the cursor is (joinedAt, userId), so members who joined in the same millisecond are neither
   * skipped nor repeated at a page boundary.
   */
  async membersOf(server: ServerArg, options: { limit?: number; after?: { joinedAt: Date; userId: string } | ServerMember } = {}): Promise<ServerMember[]> {
    const serverId = serverIdArg(server);
    const limit = validateIntegerIn('limit', options.limit ?? 1000, 1, 1000);
    const after = options.after === undefined ? undefined : memberCursor(options.after);
    return this.em.find(
      ServerMember,
      {
        server: serverId,
        ...(after ? { $or: [{ joinedAt: { $gt: after.joinedAt } }, { joinedAt: after.joinedAt, user: { $gt: after.userId } }] } : {}),
      },
      { orderBy: { joinedAt: 'asc', user: 'asc' }, limit, populate: ['roles'] },
    );
  }

  async isBanned(server: ServerArg, user: UserArg): Promise<boolean> {
    return (await this.em.count(Ban, { server: serverIdArg(server), user: userIdArg(user) })) > 0;
  }
}
