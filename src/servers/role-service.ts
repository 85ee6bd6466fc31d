import type { EntityManager } from '@mikro-orm/postgresql';
import { HierarchyViolation, LimitReached, NotFound, ValidationFailed } from '../domain/errors';
import { idArg, type IdArg, snowflakeArg } from '../domain/identity/ids';
import { LIMITS } from '../domain/limits';
import {
  assertCanActOnMember,
  assertCanAssignRole,
  assertCanGrant,
  assertCanManageRole,
  parsePermissions,
} from '../domain/permissions';
import { validateIntegerIn, validateRoleName } from '../domain/servers';
import { membershipLockKey, rolesLockKey } from '../db/lock-keys';
import { lockKeys, transact } from '../db/unit-of-work';
import { PermissionOverwrite } from '../entities/channel/PermissionOverwrite';
import { AuditLogAction, AuditLogEntry, diffChanges } from '../entities/server/AuditLogEntry';
import { Role } from '../entities/server/Role';
import { loadServerAccess, rankOf, type ServerAccess } from '../entities/server/ServerAccess';
import { ServerMember } from '../entities/server/ServerMember';
import { User } from '../entities/user/User';
import { auditReasonOf, type MemberArg, memberUserIdArg, type ReasonOption, type ServerArg } from './args';

export interface NewRole {
  name: string;
  /** A bigint, a decimal string or a safe integer; defaults to no permissions. */
  permissions?: bigint | string | number;
  /** 0x000000-0xFFFFFF; defaults to 0 (no color). */
  color?: number;
  hoist?: boolean;
  mentionable?: boolean;
}

export type RolePatch = Partial<NewRole>;

export interface RolePosition {
  id: string;
  position: number;
}

/** The highest position a role may take (positions of other roles than @everyone start at 1). */
export const MAX_ROLE_POSITION = LIMITS.roles;

function validateColor(value: unknown): number {
  return validateIntegerIn('color', value, 0, 0xffffff);
}

function validateFlag(field: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new ValidationFailed(field, 'must be a boolean');
  return value;
}

function validateNewRole(props: NewRole): Required<Omit<NewRole, 'permissions'>> & { permissions: bigint } {
  if (typeof props !== 'object' || props === null) throw new ValidationFailed('role', 'must be an object');
  return {
    name: validateRoleName(props.name),
    permissions: props.permissions === undefined ? 0n : parsePermissions(props.permissions),
    color: props.color === undefined ? 0 : validateColor(props.color),
    hoist: props.hoist === undefined ? false : validateFlag('hoist', props.hoist),
    mentionable: props.mentionable === undefined ? false : validateFlag('mentionable', props.mentionable),
  };
}

function validateRolePatch(patch: RolePatch): {
  name?: string;
  permissions?: bigint;
  color?: number;
  hoist?: boolean;
  mentionable?: boolean;
} {
  if (typeof patch !== 'object' || patch === null) throw new ValidationFailed('role', 'must be an object');
  return {
    name: patch.name === undefined ? undefined : validateRoleName(patch.name),
    permissions: patch.permissions === undefined ? undefined : parsePermissions(patch.permissions),
    color: patch.color === undefined ? undefined : validateColor(patch.color),
    hoist: patch.hoist === undefined ? undefined : validateFlag('hoist', patch.hoist),
    mentionable: patch.mentionable === undefined ? undefined : validateFlag('mentionable', patch.mentionable),
  };
}

function auditView(role: Role) {
  return {
    name: role.name,
    permissions: role.permissions.toString(),
    color: role.color,
    hoist: role.hoist,
    mentionable: role.mentionable,
  };
}

/**
 * The server's hierarchy lock (with `narrower` keys, in the same statement), then the actor's access:
 * read after the lock, so the actor's roles and the positions it sees stay true until commit.
 */
async function lockAndLoad(
  tx: EntityManager,
  serverId: string,
  actorId: string,
  narrower: string[] = [],
): Promise<ServerAccess> {
  await lockKeys(tx, [rolesLockKey(serverId), ...narrower]);
  return loadServerAccess(tx, serverId, actorId);
}

async function findRole(tx: EntityManager, serverId: string, roleId: string): Promise<Role> {
  const role = await tx.findOne(Role, { id: roleId, server: serverId }, { refresh: true });
  if (!role) throw new NotFound('Role', roleId);
  return role;
}

/**
 * Roles of a server and who holds them. Every operation runs in one transaction under the server's
 * hierarchy lock (rolesLockKey), which every moderation that checks the hierarchy takes too (kick,
 * ban, timeout, nicknames, voice moderation; src/db/lock-keys.ts), so the role count, positions, who
 * holds which role and the actor's rank cannot change between the check and the write. Each one
 * checks MANAGE_ROLES from the actor's computed permissions, the
 * role hierarchy (docs/architecture.md §9, step 6: owner exempt, otherwise strictly below the actor's
 * highest role), that nobody grants a permission they lack, writes its audit entry and records its event.
 */
export class RoleService {
  constructor(private readonly em: EntityManager) {}

  /**
   * Creates a role just above @everyone (position 1; among roles at equal positions the newest ranks
   * lowest, so it starts below every existing role). At most LIMITS.roles roles (@everyone included).
   */
  async createRole(actor: IdArg, server: ServerArg, props: NewRole, options: ReasonOption = {}): Promise<Role> {
    const actorId = idArg(actor, 'actor');
    const serverId = idArg(server, 'serverId');
    const input = validateNewRole(props);
    const reason = auditReasonOf(options);
    return transact(this.em, async (tx) => {
      const access = await lockAndLoad(tx, serverId, actorId);
      access.require('MANAGE_ROLES');
      const role = new Role(access.server, { ...input, position: 1 });
      assertCanManageRole(access.rank, role, access.server.owner.id, 'create role');
      assertCanGrant(access.permissions(), role.permissions);
      const count = await tx.count(Role, { server: serverId });
      if (count >= LIMITS.roles) throw new LimitReached('roles', LIMITS.roles);
      tx.persist(role);
      tx.persist(
        new AuditLogEntry(
          access.server,
          tx.getReference(User, actorId),
          AuditLogAction.ROLE_CREATE,
          role.id,
          diffChanges({}, auditView(role)),
          reason,
        ),
      );
      role.created();
      return role;
    });
  }

  /**
   * Edits name, permissions, color, hoist or mentionable. The @everyone role takes permission changes
   * only; a managed role takes none. Permissions the role already held may stay even if the actor
   * lacks them; only newly added bits must be the actor's (administrators and the owner add anything).
   * A patch that changes nothing writes nothing.
   */
  async updateRole(
    actor: IdArg,
    server: ServerArg,
    role: IdArg,
    patch: RolePatch,
    options: ReasonOption = {},
  ): Promise<Role> {
    const actorId = idArg(actor, 'actor');
    const serverId = idArg(server, 'serverId');
    const roleId = idArg(role, 'roleId');
    const input = validateRolePatch(patch);
    const reason = auditReasonOf(options);
    return transact(this.em, async (tx) => {
      const access = await lockAndLoad(tx, serverId, actorId);
      access.require('MANAGE_ROLES');
      const role = await findRole(tx, serverId, roleId);
      if (role.managed) throw new HierarchyViolation('edit role', 'the role is managed by an integration', { roleId });
      if (role.isEveryone) {
        const other = (['name', 'color', 'hoist', 'mentionable'] as const).find((k) => input[k] !== undefined);
        if (other) throw new ValidationFailed(other, 'the @everyone role takes permission changes only');
      }
      assertCanManageRole(access.rank, role, access.server.owner.id, 'edit role');
      if (input.permissions !== undefined) assertCanGrant(access.permissions(), input.permissions, role.permissions);
      const before = auditView(role);
      if (input.name !== undefined) role.name = input.name;
      if (input.permissions !== undefined) role.permissions = input.permissions;
      if (input.color !== undefined) role.color = input.color;
      if (input.hoist !== undefined) role.hoist = input.hoist;
      if (input.mentionable !== undefined) role.mentionable = input.mentionable;
      const changes = diffChanges(before, auditView(role));
      if (changes.length === 0) return role;
      tx.persist(
        new AuditLogEntry(
          access.server,
          tx.getReference(User, actorId),
          AuditLogAction.ROLE_UPDATE,
          role.id,
          changes,
          reason,
        ),
      );
      role.updated();
      return role;
    });
  }

  /**
   * Deletes a role below the actor (never @everyone, never a managed role). Members lose it (the
   * foreign key cascades) and the channel overwrites for it are removed, each channel with CHANNEL_UPDATE.
   */
  async deleteRole(actor: IdArg, server: ServerArg, role: IdArg, options: ReasonOption = {}): Promise<void> {
    const actorId = idArg(actor, 'actor');
    const serverId = idArg(server, 'serverId');
    const roleId = idArg(role, 'roleId');
    const reason = auditReasonOf(options);
    await transact(this.em, async (tx) => {
      const access = await lockAndLoad(tx, serverId, actorId);
      access.require('MANAGE_ROLES');
      const role = await findRole(tx, serverId, roleId);
      if (role.isEveryone) throw new ValidationFailed('roleId', 'the @everyone role cannot be deleted');
      if (role.managed)
        throw new HierarchyViolation('delete role', 'the role is managed by an integration', { roleId });
      assertCanManageRole(access.rank, role, access.server.owner.id, 'delete role');
      const overwrites = await tx.find(
        PermissionOverwrite,
        { targetId: roleId, channel: { server: serverId } },
        { populate: ['channel.overwrites'] },
      );
      for (const overwrite of overwrites) {
        const channel = overwrite.channel.getEntity();
        channel.overwrites.remove(overwrite);
        channel.updated();
      }
      tx.persist(
        new AuditLogEntry(
          access.server,
          tx.getReference(User, actorId),
          AuditLogAction.ROLE_DELETE,
          role.id,
          diffChanges(auditView(role), {}),
          reason,
        ),
      );
      role.deleted();
      tx.remove(role);
    });
  }

  /**
   * Moves roles to the given positions (1..MAX_ROLE_POSITION). @everyone stays at 0; managed roles may
   * be moved (as on Discord), though not edited, deleted or assigned. Each role must be
   * below the actor both where it is and where it goes (owner exempt); roles not listed keep their
   * positions, and equal positions rank by id. One ROLE_UPDATE entry and event per role that moved.
   */
  async reorderRoles(
    actor: IdArg,
    server: ServerArg,
    positions: RolePosition[],
    options: ReasonOption = {},
  ): Promise<Role[]> {
    const actorId = idArg(actor, 'actor');
    const serverId = idArg(server, 'serverId');
    if (!Array.isArray(positions) || positions.length === 0)
      throw new ValidationFailed('positions', 'must list at least one role');
    const wanted = new Map<string, number>();
    for (const entry of positions) {
      const id = snowflakeArg(entry?.id, 'positions.id');
      if (wanted.has(id)) throw new ValidationFailed('positions', 'lists a role twice', { roleId: id });
      wanted.set(id, validateIntegerIn('position', entry.position, 1, MAX_ROLE_POSITION));
    }
    const reason = auditReasonOf(options);
    return transact(this.em, async (tx) => {
      const access = await lockAndLoad(tx, serverId, actorId);
      access.require('MANAGE_ROLES');
      const roles = await tx.find(Role, { id: { $in: [...wanted.keys()] }, server: serverId }, { refresh: true });
      const found = new Map(roles.map((r) => [r.id, r]));
      const moved: Role[] = [];
      for (const [id, position] of wanted) {
        const role = found.get(id);
        if (!role) throw new NotFound('Role', id);
        if (role.isEveryone) throw new ValidationFailed('positions', 'the @everyone role cannot be moved');
        const ownerId = access.server.owner.id;
        assertCanManageRole(access.rank, role, ownerId, 'move role');
        assertCanManageRole(access.rank, { id: role.id, position, managed: role.managed }, ownerId, 'move role');
        if (role.position !== position) moved.push(role);
      }
      for (const role of moved) {
        const before = role.position;
        role.position = wanted.get(role.id)!;
        tx.persist(
          new AuditLogEntry(
            access.server,
            tx.getReference(User, actorId),
            AuditLogAction.ROLE_UPDATE,
            role.id,
            [{ key: 'position', old: before, new: role.position }],
            reason,
          ),
        );
        role.updated();
      }
      return roles;
    });
  }

  /**
   * Gives a member a role (MANAGE_ROLES; the role below the actor, not managed; the member below
   * the actor, or the actor themself).
   */
  async assignRole(
    actor: IdArg,
    server: ServerArg,
    member: MemberArg,
    role: IdArg,
    options: ReasonOption = {},
  ): Promise<ServerMember> {
    return this.changeMemberRole(actor, server, member, role, 'add', options);
  }

  /** Takes a role from a member, under the same rules as `assignRole`. */
  async unassignRole(
    actor: IdArg,
    server: ServerArg,
    member: MemberArg,
    role: IdArg,
    options: ReasonOption = {},
  ): Promise<ServerMember> {
    return this.changeMemberRole(actor, server, member, role, 'remove', options);
  }

  private async changeMemberRole(
    actor: IdArg,
    server: ServerArg,
    target: MemberArg,
    roleArg: IdArg,
    op: 'add' | 'remove',
    options: ReasonOption,
  ): Promise<ServerMember> {
    const actorId = idArg(actor, 'actor');
    const serverId = idArg(server, 'serverId');
    const userId = memberUserIdArg(target, serverId, 'userId');
    const roleId = idArg(roleArg, 'roleId');
    const reason = auditReasonOf(options);
    const action = op === 'add' ? 'assign role' : 'unassign role';
    return transact(this.em, async (tx) => {
      // The member's own lock too: a join, leave, kick or ban of that member waits, or is waited for.
      const access = await lockAndLoad(tx, serverId, actorId, [membershipLockKey(serverId, userId)]);
      access.require('MANAGE_ROLES');
      const role = await findRole(tx, serverId, roleId);
      if (role.isEveryone) throw new ValidationFailed('roleId', 'every member holds the @everyone role');
      const ownerId = access.server.owner.id;
      assertCanAssignRole(access.rank, role, ownerId, action);
      // The access carries the actor's roles as facts only: the member's role collection is loaded here.
      const member = await tx.findOne(
        ServerMember,
        { server: serverId, user: userId },
        { populate: ['roles'], refresh: true },
      );
      if (!member) throw new NotFound('ServerMember', userId);
      assertCanActOnMember(access.rank, rankOf(userId, member.roles.getItems()), ownerId, 'roles');
      const holds = member.roles.contains(role);
      if (op === 'add' ? holds : !holds) return member;
      if (op === 'add') member.roles.add(role);
      else member.roles.remove(role);
      const change = { key: op === 'add' ? '$add' : '$remove', new: [{ id: role.id, name: role.name }] };
      tx.persist(
        new AuditLogEntry(
          access.server,
          tx.getReference(User, actorId),
          AuditLogAction.MEMBER_ROLE_UPDATE,
          userId,
          [change],
          reason,
        ),
      );
      member.updated();
      return member;
    });
  }
}
