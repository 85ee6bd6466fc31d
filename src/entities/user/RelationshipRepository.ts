import { EntityRepository, type EntityManager } from '@mikro-orm/postgresql';
import { NotFound, SelfRelationship } from '../../domain/errors';
import { orderedPair, RelationshipStatus, RelationshipType } from '../../domain/identity/relationships';
import { lockKeys, transact } from '../../db/unit-of-work';
import { Relationship, type FriendCounts } from './Relationship';
import { User } from './User';
import { snowflakeArg, userIdOf } from '../../domain/identity/ids';

export interface RelationshipView {
  userId: string;
  type: RelationshipType;
  since: Date | null;
}

type Transition = (relationship: Relationship, actor: User, friends: () => Promise<FriendCounts>) => Promise<void> | void;


/** The lock every change to a user's relationships takes (exclusive); DM sends and opens take it shared. */
export const relationshipLockKey = (userId: string) => `relationships:${userId}`;
/**
 * Every change between two users runs here: both users' relationship locks are taken (in a stable
 * order, so crossing operations cannot deadlock), the pair is read fresh, the entity applies the
 * rule, and the change commits with its events. The per-user lock also keeps the friend cap exact.
 */
export class RelationshipRepository extends EntityRepository<Relationship> {
  async sendFriendRequest(from: User, to: User | string): Promise<Relationship> {
    if (typeof to !== 'string') userIdOf(to); // a tag or a user; anything else is refused before any query
    return transact(this.em, async (tx) => {
      const target = typeof to === 'string' ? await tx.getRepository(User).findByTagOrFail(to) : to;
      return this.applyTo(tx, from, target, async (rel, actor, friends) => rel.requestFrom(tx.getReference(User, actor.id, { wrapped: true }), await friends()));
    });
  }

  acceptFriendRequest(receiver: User, sender: User): Promise<Relationship> {
    return transact(this.em, (tx) => this.applyTo(tx, receiver, sender, async (rel, actor, friends) => rel.acceptBy(actor.id, await friends())));
  }

  async declineFriendRequest(receiver: User, sender: User): Promise<void> {
    await transact(this.em, (tx) => this.applyTo(tx, receiver, sender, (rel, actor) => rel.declineBy(actor.id)));
  }

  async cancelFriendRequest(sender: User, receiver: User): Promise<void> {
    await transact(this.em, (tx) => this.applyTo(tx, sender, receiver, (rel, actor) => rel.cancelBy(actor.id)));
  }

  async removeFriend(user: User, friend: User): Promise<void> {
    await transact(this.em, (tx) => this.applyTo(tx, user, friend, (rel, actor) => rel.unfriendBy(actor.id)));
  }

  block(user: User, target: User): Promise<Relationship> {
    return transact(this.em, (tx) => this.applyTo(tx, user, target, (rel, actor) => rel.blockBy(actor.id)));
  }

  async unblock(user: User, target: User): Promise<void> {
    await transact(this.em, (tx) => this.applyTo(tx, user, target, (rel, actor) => rel.unblockBy(actor.id)));
  }

  private async applyTo(tx: EntityManager, actor: User, other: User, transition: Transition): Promise<Relationship> {
    const actorId = userIdOf(actor);
    const otherId = userIdOf(other);
    if (actorId === otherId) throw new SelfRelationship();
    const [a, b] = orderedPair(actorId, otherId);
    await lockKeys(tx, [relationshipLockKey(a), relationshipLockKey(b)]);
    const existing = await tx.findOne(Relationship, { userA: a, userB: b }, { refresh: true });
    if (!existing) await this.assertUsersExist(tx, [a, b]); // a stored row implies both (foreign keys cascade)
    const relationship = existing ?? new Relationship(tx.getReference(User, a), tx.getReference(User, b));
    const friends = async () => this.friendCounts(tx, [a, b]);
    await transition(relationship, actor, friends);
    if (!relationship.isVacant) tx.persist(relationship);
    else if (existing) tx.remove(relationship);
    return relationship;
  }

  private async assertUsersExist(tx: EntityManager, userIds: string[]): Promise<void> {
    const rows: { id: string }[] = await tx.execute('select "id"::text as "id" from "User" where "id" = any(array[?]::bigint[])', [userIds]);
    const found = new Set(rows.map((r) => r.id));
    const missing = userIds.find((id) => !found.has(id));
    if (missing) throw new NotFound('User', missing);
  }

  private async friendCounts(tx: EntityManager, userIds: string[]): Promise<FriendCounts> {
    const rows: { id: string; friends: string }[] = await tx.execute(
      `select u.id::text as id,
              (select count(*) from "Relationship" r where r."userAId" = u.id and r.status = 'FRIENDS')
            + (select count(*) from "Relationship" r where r."userBId" = u.id and r.status = 'FRIENDS') as friends
         from unnest(array[?]::bigint[]) as u(id)`,
      [userIds],
    );
    return Object.fromEntries(rows.map((r) => [r.id, Number(r.friends)]));
  }

  // Queries, each from the point of view of one user.

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
    return this.em.find(User, { id: { $in: await this.friendIds(userId) } }, { orderBy: { username: 'asc', discriminator: 'asc' } });
  }

  async mutualFriends(userId: string, otherId: string): Promise<User[]> {
    const [mine, theirs] = await Promise.all([this.friendIds(userId), this.friendIds(otherId)]);
    const theirSet = new Set(theirs);
    return this.em.find(User, { id: { $in: mine.filter((id) => theirSet.has(id)) } }, { orderBy: { username: 'asc', discriminator: 'asc' } });
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
