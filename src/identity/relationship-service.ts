import type { EntityManager } from '@mikro-orm/postgresql';
import { NotFound, SelfRelationship } from '../domain/errors';
import { userIdOf } from '../domain/identity/ids';
import { orderedPair } from '../domain/identity/relationships';
import { relationshipLockKey } from '../db/lock-keys';
import { lockKeys, transact } from '../db/unit-of-work';
import { Relationship, type FriendCounts } from '../entities/user/Relationship';
import { User } from '../entities/user/User';

type Transition = (
  relationship: Relationship,
  actor: User,
  friends: () => Promise<FriendCounts>,
) => Promise<void> | void;

/**
 * Friendships and blocks. Every change between two users runs through `applyTo`: both users'
 * relationship locks are taken (in a stable order, so crossing operations cannot deadlock), the pair
 * is read fresh, the entity applies the rule, and the change commits with its events. The per-user
 * lock also keeps the friend cap exact. Queries (friendIds, relationshipsOf, ...) are on
 * RelationshipRepository.
 */
export class RelationshipService {
  constructor(private readonly em: EntityManager) {}

  async sendFriendRequest(from: User, to: User | string): Promise<Relationship> {
    if (typeof to !== 'string') userIdOf(to); // a tag or a user; anything else is refused before any query
    return transact(this.em, async (tx) => {
      const target = typeof to === 'string' ? await tx.getRepository(User).findByTagOrFail(to) : to;
      return applyTo(tx, from, target, async (rel, actor, friends) =>
        rel.requestFrom(tx.getReference(User, actor.id, { wrapped: true }), await friends()),
      );
    });
  }

  acceptFriendRequest(receiver: User, sender: User): Promise<Relationship> {
    return transact(this.em, (tx) =>
      applyTo(tx, receiver, sender, async (rel, actor, friends) => rel.acceptBy(actor.id, await friends())),
    );
  }

  async declineFriendRequest(receiver: User, sender: User): Promise<void> {
    await transact(this.em, (tx) => applyTo(tx, receiver, sender, (rel, actor) => rel.declineBy(actor.id)));
  }

  async cancelFriendRequest(sender: User, receiver: User): Promise<void> {
    await transact(this.em, (tx) => applyTo(tx, sender, receiver, (rel, actor) => rel.cancelBy(actor.id)));
  }

  async removeFriend(user: User, friend: User): Promise<void> {
    await transact(this.em, (tx) => applyTo(tx, user, friend, (rel, actor) => rel.unfriendBy(actor.id)));
  }

  block(user: User, target: User): Promise<Relationship> {
    return transact(this.em, (tx) => applyTo(tx, user, target, (rel, actor) => rel.blockBy(actor.id)));
  }

  async unblock(user: User, target: User): Promise<void> {
    await transact(this.em, (tx) => applyTo(tx, user, target, (rel, actor) => rel.unblockBy(actor.id)));
  }
}

async function applyTo(tx: EntityManager, actor: User, other: User, transition: Transition): Promise<Relationship> {
  const actorId = userIdOf(actor);
  const otherId = userIdOf(other);
  if (actorId === otherId) throw new SelfRelationship();
  const [a, b] = orderedPair(actorId, otherId);
  await lockKeys(tx, [relationshipLockKey(a), relationshipLockKey(b)]);
  const existing = await tx.findOne(Relationship, { userA: a, userB: b }, { refresh: true });
  if (!existing) await assertUsersExist(tx, [a, b]); // a stored row implies both (foreign keys cascade)
  const relationship = existing ?? new Relationship(tx.getReference(User, a), tx.getReference(User, b));
  const friends = async () => friendCounts(tx, [a, b]);
  await transition(relationship, actor, friends);
  if (!relationship.isVacant) tx.persist(relationship);
  else if (existing) tx.remove(relationship);
  return relationship;
}

async function assertUsersExist(tx: EntityManager, userIds: string[]): Promise<void> {
  const rows: { id: string }[] = await tx.execute(
    'select "id"::text as "id" from "User" where "id" = any(array[?]::bigint[])',
    [userIds],
  );
  const found = new Set(rows.map((r) => r.id));
  const missing = userIds.find((id) => !found.has(id));
  if (missing) throw new NotFound('User', missing);
}

async function friendCounts(tx: EntityManager, userIds: string[]): Promise<FriendCounts> {
  const rows: { id: string; friends: string }[] = await tx.execute(
    `select u.id::text as id,
            (select count(*) from "Relationship" r where r."userAId" = u.id and r.status = 'FRIENDS')
          + (select count(*) from "Relationship" r where r."userBId" = u.id and r.status = 'FRIENDS') as friends
       from unnest(array[?]::bigint[]) as u(id)`,
    [userIds],
  );
  return Object.fromEntries(rows.map((r) => [r.id, Number(r.friends)]));
}
