import { EntityRepository } from '@mikro-orm/postgresql';
import { orderedPair, RelationshipStatus, RelationshipType } from '../../domain/identity/relationships';
import { snowflakeArg } from '../../domain/identity/ids';
import { Relationship } from './Relationship';
import { User } from './User';

export interface RelationshipView {
  userId: string;
  type: RelationshipType;
  since: Date | null;
}

/** Transitional re-export: the key lives in src/db/lock-keys.ts (remove once no caller imports it from here). */

/**
 * Queries about relationships, each from the point of view of one user. Changes (friend requests,
 * blocks, ...) are use cases: see RelationshipService (src/identity).
 */
export class RelationshipRepository extends EntityRepository<Relationship> {
  async relationshipsOf(userId: string): Promise<RelationshipView[]> {
    snowflakeArg(userId);
    const rows = await this.em.find(Relationship, { $or: [{ userA: userId }, { userB: userId }] });
    return rows
      .map((r) => ({ userId: r.otherThan(userId).id, type: r.typeFor(userId), since: r.since }))
      .filter((v): v is RelationshipView => v.type !== null);
  }

  async friendIds(userId: string): Promise<string[]> {
    snowflakeArg(userId);
    const rows: { id: string }[] = await this.em.execute(
      `select "userBId"::text as id from "Relationship" where "userAId" = ? and status = 'FRIENDS'
       union all
       select "userAId"::text from "Relationship" where "userBId" = ? and status = 'FRIENDS'`,
      [userId, userId],
    );
    return rows.map((r) => r.id);
  }

  async friendsOf(userId: string): Promise<User[]> {
    return this.em.find(
      User,
      { id: { $in: await this.friendIds(userId) } },
      { orderBy: { username: 'asc', discriminator: 'asc' } },
    );
  }

  async mutualFriends(userId: string, otherId: string): Promise<User[]> {
    const [mine, theirs] = await Promise.all([this.friendIds(userId), this.friendIds(otherId)]);
    const theirSet = new Set(theirs);
    return this.em.find(
      User,
      { id: { $in: mine.filter((id) => theirSet.has(id)) } },
      { orderBy: { username: 'asc', discriminator: 'asc' } },
    );
  }

  async pendingIncoming(userId: string): Promise<RelationshipView[]> {
    return (await this.relationshipsOf(userId)).filter((v) => v.type === RelationshipType.PENDING_INCOMING);
  }

  async pendingOutgoing(userId: string): Promise<RelationshipView[]> {
    return (await this.relationshipsOf(userId)).filter((v) => v.type === RelationshipType.PENDING_OUTGOING);
  }

  async blockedBy(userId: string): Promise<RelationshipView[]> {
    return (await this.relationshipsOf(userId)).filter((v) => v.type === RelationshipType.BLOCKED);
  }

  /** True when either side blocks the other; messaging and DMs ask this. */
  async isBlockedEitherWay(userId: string, otherId: string): Promise<boolean> {
    const [a, b] = orderedPair(snowflakeArg(userId), snowflakeArg(otherId, 'otherId'));
    const row = await this.em.findOne(Relationship, { userA: a, userB: b });
    return !!row && (row.aBlocksB || row.bBlocksA);
  }

  async statusBetween(userId: string, otherId: string): Promise<RelationshipStatus> {
    const [a, b] = orderedPair(snowflakeArg(userId), snowflakeArg(otherId, 'otherId'));
    return this.em.findOne(Relationship, { userA: a, userB: b }).then((r) => r?.status ?? RelationshipStatus.NONE);
  }
}
