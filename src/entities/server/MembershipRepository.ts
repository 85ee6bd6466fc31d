import { EntityRepository } from '@mikro-orm/postgresql';
import { ValidationFailed } from '../../domain/errors';
import { idArg } from '../../domain/identity/ids';
import { validateIntegerIn } from '../../domain/servers';
import { Ban } from './Ban';
import { ServerMember } from './ServerMember';

// Transitional, type-only: the argument types now live in src/servers/args.ts; modules not yet
// moved (voice) still name them here. Remove once nothing imports them from this module.
export type { MemberArg, ReasonOption, ServerArg, UserArg } from '../../servers/args';
import type { ServerArg, UserArg } from '../../servers/args';

function memberCursor(after: unknown): { joinedAt: Date; userId: string } {
  if (after instanceof ServerMember) return { joinedAt: after.joinedAt, userId: after.user.id };
  const cursor = after as { joinedAt?: unknown; userId?: unknown } | null;
  if (
    typeof cursor !== 'object' ||
    cursor === null ||
    !(cursor.joinedAt instanceof Date) ||
    Number.isNaN(cursor.joinedAt.getTime())
  ) {
    throw new ValidationFailed('after', 'must be a member, or { joinedAt: Date, userId }');
  }
  return { joinedAt: cursor.joinedAt, userId: idArg(cursor.userId, 'after.userId') };
}

/** Queries over memberships and bans; joining, leaving and moderating are MembershipService's. */
export class MembershipRepository extends EntityRepository<ServerMember> {
  /**
   * Members by join date, a page at a time. Pass the last member of a page as `after` for the next:
   * the cursor is (joinedAt, userId), so members who joined in the same millisecond are neither
   * skipped nor repeated at a page boundary (the ServerMember_serverId_joinedAt_index serves it).
   */
  async membersOf(
    server: ServerArg,
    options: { limit?: number; after?: { joinedAt: Date; userId: string } | ServerMember } = {},
  ): Promise<ServerMember[]> {
    const serverId = idArg(server, 'server');
    const limit = validateIntegerIn('limit', options.limit ?? 1000, 1, 1000);
    const after = options.after === undefined ? undefined : memberCursor(options.after);
    return this.em.find(
      ServerMember,
      {
        server: serverId,
        ...(after
          ? { $or: [{ joinedAt: { $gt: after.joinedAt } }, { joinedAt: after.joinedAt, user: { $gt: after.userId } }] }
          : {}),
      },
      { orderBy: { joinedAt: 'asc', user: 'asc' }, limit, populate: ['roles'] },
    );
  }

  async isBanned(server: ServerArg, user: UserArg): Promise<boolean> {
    return (await this.em.count(Ban, { server: idArg(server, 'server'), user: idArg(user, 'user') })) > 0;
  }
}
