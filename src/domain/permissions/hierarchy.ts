/**
 * Role hierarchy (docs/architecture.md §9, step 6), pure.
 *
 * Rank: a higher `position` ranks higher; on equal positions the lower id (the older snowflake) ranks
 * higher. A member's rank is their highest role; a member without roles (only @everyone) ranks below
 * every role. Pass a member's roles WITHOUT the @everyone role.
 *
 * These rules check the hierarchy only. The permission itself (KICK_MEMBERS, MANAGE_ROLES, ...) is
 * checked separately with `assertPermissions` on computed permissions.
 */
import { HierarchyViolation, MissingPermission, ValidationFailed } from '../errors';
import { ALL_PERMISSIONS, PermissionFlags as F, permissionNames } from './flags';

export interface RankedRole {
  id: string;
  position: number;
  /** Managed by an integration: nobody assigns or removes it by hand. */
  managed?: boolean;
}

export interface RankedMember {
  /** The member's user id. */
  id: string;
  /** The member's roles, without @everyone. */
  roles: readonly RankedRole[];
}

/** A role, a member (ranked by their highest role), or nothing (the @everyone level). */
export type Rankable = RankedRole | { roles: readonly RankedRole[] } | null | undefined;

function compareIds(a: string, b: string): number {
  if (/^[0-9]+$/.test(a) && /^[0-9]+$/.test(b)) {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Positive when `a` ranks above `b`, negative below, 0 only for the same role id. */
export function compareRoleRank(a: RankedRole, b: RankedRole): number {
  if (a.position !== b.position) return a.position > b.position ? 1 : -1;
  return compareIds(b.id, a.id); // lower id ranks higher
}

/** The highest-ranked role, or undefined for none. */
export function highestRole<R extends RankedRole>(roles: readonly R[]): R | undefined {
  let top: R | undefined;
  for (const role of roles) if (top === undefined || compareRoleRank(role, top) > 0) top = role;
  return top;
}

function topOf(x: Rankable): RankedRole | undefined {
  if (x == null) return undefined;
  if ('roles' in x) return highestRole(x.roles);
  return x;
}

/**
 * Whether `actor` ranks strictly above `target` (each a role, or a member ranked by their highest role).
 * Nothing outranks itself; two members whose highest role is the same role do not outrank each other;
 * distinct roles at equal positions are ordered by id. Having no role ranks below every role.
 */
export function outranks(actor: Rankable, target: Rankable): boolean {
  const a = topOf(actor);
  const t = topOf(target);
  if (a === undefined) return false;
  if (t === undefined) return true;
  return compareRoleRank(a, t) > 0;
}

/** Whether `actor` may edit, delete, reorder a role: the owner always; others only below their highest role. */
export function canManageRole(actor: RankedMember, role: RankedRole, ownerId: string): boolean {
  return actor.id === ownerId || outranks(actor, role);
}

/** `canManageRole`, and the role is not managed by an integration (nobody assigns those, not even the owner). */
export function canAssignRole(actor: RankedMember, role: RankedRole, ownerId: string): boolean {
  return !role.managed && canManageRole(actor, role, ownerId);
}

export function assertCanManageRole(
  actor: RankedMember,
  role: RankedRole,
  ownerId: string,
  action = 'manage role',
): void {
  if (!canManageRole(actor, role, ownerId)) {
    throw new HierarchyViolation(action, 'the role is not below your highest role', {
      actorId: actor.id,
      roleId: role.id,
    });
  }
}

export function assertCanAssignRole(
  actor: RankedMember,
  role: RankedRole,
  ownerId: string,
  action = 'assign role',
): void {
  if (role.managed) {
    throw new HierarchyViolation(action, 'the role is managed by an integration', {
      actorId: actor.id,
      roleId: role.id,
    });
  }
  assertCanManageRole(actor, role, ownerId, action);
}

/**
 * What one member does to another. The self rule differs per action:
 * - 'kick', 'ban', 'timeout': never on oneself (leave the server instead); not even the owner;
 * - 'nickname': on oneself always allowed by the hierarchy (the permission differs: CHANGE_NICKNAME for
 *   oneself, MANAGE_NICKNAMES for others);
 * - 'roles': on oneself allowed by the member rule; each role still needs `canAssignRole`, so a member
 *   with MANAGE_ROLES can give themself only roles below their highest role;
 * - 'voice' (server mute, deafen, move): on oneself allowed.
 * On anyone else, every action follows the hierarchy: nobody acts on the owner, the owner acts on
 * everyone, others only on members they strictly outrank. (Discord does not rank voice moderation;
 * CRYB does, as docs/architecture.md §9 asks.)
 */
export type MemberAction = 'kick' | 'ban' | 'timeout' | 'nickname' | 'roles' | 'voice';

export const SELF_ALLOWED_ACTIONS: ReadonlySet<MemberAction> = new Set<MemberAction>(['nickname', 'roles', 'voice']);

export type HierarchyRefusal = 'self' | 'target-is-owner' | 'not-above-target';

/** Why the hierarchy forbids `action`, or null when it allows it. */
export function memberActionRefusal(
  actor: RankedMember,
  target: RankedMember,
  ownerId: string,
  action: MemberAction,
): HierarchyRefusal | null {
  if (actor.id === target.id) return SELF_ALLOWED_ACTIONS.has(action) ? null : 'self';
  if (target.id === ownerId) return 'target-is-owner';
  if (actor.id === ownerId) return null;
  return outranks(actor, target) ? null : 'not-above-target';
}

/**
 * Whether `actor` may do `action` to `target` as far as the hierarchy goes. Without `action` the
 * strictest rule applies (as for kick: never on oneself).
 */
export function canActOnMember(
  actor: RankedMember,
  target: RankedMember,
  ownerId: string,
  action: MemberAction = 'kick',
): boolean {
  return memberActionRefusal(actor, target, ownerId, action) === null;
}

const REFUSAL_TEXT: Record<HierarchyRefusal, string> = {
  self: 'you cannot do this to yourself',
  'target-is-owner': 'the server owner is above every rule',
  'not-above-target': "the member's highest role is not below yours",
};

/** Throws `HierarchyViolation` (details: actorId, targetId, refusal) when `canActOnMember` is false. */
export function assertCanActOnMember(
  actor: RankedMember,
  target: RankedMember,
  ownerId: string,
  action: MemberAction = 'kick',
): void {
  const refusal = memberActionRefusal(actor, target, ownerId, action);
  if (refusal !== null) {
    throw new HierarchyViolation(action, REFUSAL_TEXT[refusal], { actorId: actor.id, targetId: target.id, refusal });
  }
}

function grantCheck(actorPermissions: bigint, requested: bigint, current: bigint): bigint {
  if (requested < 0n || (requested & ~ALL_PERMISSIONS) !== 0n) {
    throw new ValidationFailed('permissions', 'holds bits that are not permissions', {
      requested: requested.toString(),
    });
  }
  if ((actorPermissions & F.ADMINISTRATOR) !== 0n) return 0n;
  return requested & ~current & ~actorPermissions;
}

/**
 * Whether someone holding `actorPermissions` may grant `requested` (a role's permissions, or an
 * overwrite's allow | deny). Administrators and the owner (whose computed permissions include
 * ADMINISTRATOR) may grant anything; others only what they hold themselves. With `current` (the role's
 * or overwrite's bits before the change), only the newly added bits are checked, so an edit may keep
 * bits the actor lacks but not add them. Pass computed permissions: server level for roles, the
 * channel's for overwrites.
 */
export function canGrant(actorPermissions: bigint, requested: bigint, current = 0n): boolean {
  return grantCheck(actorPermissions, requested, current) === 0n;
}

/** Throws `MissingPermission` naming what the actor lacks, or `ValidationFailed` for unknown bits. */
export function assertCanGrant(actorPermissions: bigint, requested: bigint, current = 0n): void {
  const lacking = grantCheck(actorPermissions, requested, current);
  if (lacking !== 0n)
    throw new MissingPermission(permissionNames(lacking), { reason: 'cannot grant a permission you do not have' });
}
