import type { Ref } from '@mikro-orm/core';
import { ValidationFailed } from '../domain/errors';
import { idArg } from '../domain/identity/ids';
import { validateAuditReason } from '../entities/server/AuditLogEntry';
import type { Server } from '../entities/server/Server';
import { ServerMember } from '../entities/server/ServerMember';
import type { User } from '../entities/user/User';

/** A user: the entity, a reference to it, or its id. */
export type UserArg = User | Ref<User> | string;
/** A server: the entity, a reference to it, or its id. */
export type ServerArg = Server | Ref<Server> | { readonly id: string } | string;
/** The member acted on: their membership, their user (entity or reference), or their user id. */
export type MemberArg = ServerMember | User | Ref<User> | string;

/** The options object every audited operation takes last. */
export interface ReasonOption {
  /** The audit log reason, 1-512 characters. */
  reason?: string | null;
}

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

/**
 * The validated audit reason of an options object. A bare string is refused rather than ignored:
 * it is what a caller of the old positional `reason` signature would pass, and silently dropping it
 * would lose the reason from the audit log.
 */
export function auditReasonOf(options: unknown): string | null {
  if (options === undefined || options === null) return null;
  if (typeof options !== 'object' || Array.isArray(options))
    throw new ValidationFailed('options', 'must be an object such as { reason }');
  return validateAuditReason((options as ReasonOption).reason);
}
