import type { EntityManager } from '@mikro-orm/postgresql';
import { LimitReached } from '../domain/errors';
import { serverLimitFor } from '../domain/servers';
import { userMembershipsLockKey } from '../db/lock-keys';
import { lockKeys } from '../db/unit-of-work';
import { ServerMember } from '../entities/server/ServerMember';
import type { User } from '../entities/user/User';

/**
 * Refuses a join or creation past the user's server cap (100, or 200 with premium). The count is read
 * under the user's memberships lock, which every join and every server creation takes.
 */
export async function assertCanJoinAnotherServer(tx: EntityManager, user: User): Promise<void> {
  await lockKeys(tx, [userMembershipsLockKey(user.id)]);
  const count = await tx.count(ServerMember, { user: user.id });
  const max = serverLimitFor(user.isPremium);
  if (count >= max) throw new LimitReached('servers', max);
}
