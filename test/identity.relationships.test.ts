import { describe, expect, it } from 'vitest';
import type { EntityManager } from '@mikro-orm/postgresql';
import {
  AlreadyFriends,
  DomainError,
  LimitReached,
  NoPendingRequest,
  NotBlocked,
  NotFound,
  NotFriends,
  SelfRelationship,
  UserBlocked,
  ValidationFailed,
} from '../src/domain/errors';
import { RelationshipStatus, RelationshipType } from '../src/domain/identity/relationships';
import { Relationship } from '../src/entities/user/Relationship';
import { User } from '../src/entities/user/User';
import { useTestDatabase } from './support/db';
import { UserService } from '../src/identity/user-service';

const db = useTestDatabase();

let serial = 0;
/** Registers n users with names unique to this file run. */
async function users(em: EntityManager, n: number, prefix = 'rel'): Promise<User[]> {
  const out: User[] = [];
  for (let i = 0; i < n; i++) out.push(await new UserService(em).register({ username: `${prefix}${++serial}` }));
  return out;
}

interface Row {
  status: string;
  requesterId: string | null;
  blockers: string[];
}

/** The stored row between two users, read with raw SQL, in terms of who blocks whom. */
async function row(x: User, y: User): Promise<Row | null> {
  const rows = await db().sql<{
    a: string;
    b: string;
    status: string;
    requesterId: string | null;
    aBlocksB: boolean;
    bBlocksA: boolean;
  }>(
    `select "userAId"::text as a, "userBId"::text as b, status, "requesterId"::text as "requesterId", "aBlocksB",
      "bBlocksA"
       from "Relationship" where ("userAId", "userBId") in (($1::bigint, $2::bigint), ($2::bigint, $1::bigint))`,
    [x.id, y.id],
  );
  expect(rows.length).toBeLessThanOrEqual(1);
  const r = rows[0];
  if (!r) return null;
  expect(BigInt(r.a) < BigInt(r.b)).toBe(true);
  const blockers = [...(r.aBlocksB ? [r.a] : []), ...(r.bBlocksA ? [r.b] : [])].sort();
  return { status: r.status, requesterId: r.requesterId, blockers };
}

interface Ev {
  event: string;
  to: string;
  about: string;
  type: number;
}

/** RELATIONSHIP_* events addressed to any of the users, oldest first. */
async function relationshipEvents(...of: User[]): Promise<Ev[]> {
  const rows = await db().sql<{ type: string; payload: { id: string; type: number }; userIds: string[] }>(
    `select type, payload, "userIds"::text[] as "userIds" from "DomainEvent"
      where type like 'RELATIONSHIP_%' and "userIds" && $1::bigint[] order by id`,
    [of.map((u) => u.id)],
  );
  return rows.map((r) => {
    expect(r.userIds).toHaveLength(1);
    return { event: r.type, to: r.userIds[0], about: r.payload.id, type: r.payload.type };
  });
}

/** Runs an operation and returns the relationship events it wrote for the users. */
async function eventsOf(op: () => Promise<unknown>, ...of: User[]): Promise<Ev[]> {
  const before = (await relationshipEvents(...of)).length;
  await op();
  return (await relationshipEvents(...of)).slice(before);
}

const add = (to: User, about: User, type: RelationshipType): Ev => ({
  event: 'RELATIONSHIP_ADD',
  to: to.id,
  about: about.id,
  type,
});
const remove = (to: User, about: User, type: RelationshipType): Ev => ({
  event: 'RELATIONSHIP_REMOVE',
  to: to.id,
  about: about.id,
  type,
});
const sortEvents = (events: Ev[]) => [...events].sort((x, y) => `${x.to}${x.event}`.localeCompare(`${y.to}${y.event}`));

async function tableCounts() {
  const [r] = await db().sql<{ users: string; presences: string; relationships: string; events: string }>(
    `select (select count(*) from "User")::text as users, (select count(*) from "UserPresence")::text as presences,
            (select count(*) from "Relationship")::text as relationships, (select count(*)
              from "DomainEvent")::text as events`,
  );
  return r;
}

/**
 * Expects the operation to fail with `type`, and checks from the database that it wrote nothing:
 * every table's row count and the pair's row are as they were.
 */
async function refused<E extends DomainError>(
  op: () => Promise<unknown>,
  type: abstract new (...args: never[]) => E,
  pair?: [User, User],
): Promise<E> {
  const counts = await tableCounts();
  const before = pair ? await row(...pair) : null;
  let error: unknown;
  try {
    await op();
  } catch (e) {
    error = e;
  }
  expect(error, `expected ${type.name}`).toBeInstanceOf(type);
  expect(await tableCounts()).toEqual(counts);
  if (pair) expect(await row(...pair)).toEqual(before);
  return error as E;
}

const ids = (list: { id: string }[]) => list.map((u) => u.id).sort();
const userIdsOf = (list: { userId: string }[]) => list.map((v) => v.userId).sort();

describe('friend requests', () => {
  it('refuses a request to oneself, by object or by tag, and a self-block', async () => {
    const em = db().fork();
    const [a] = await users(em, 1);
    await refused(() => a.sendFriendRequest(a), SelfRelationship);
    await refused(() => a.sendFriendRequest(a.tag), SelfRelationship);
    await refused(() => a.block(a), SelfRelationship);
    await refused(() => a.acceptFriendRequest(a), SelfRelationship);
  });

  it('sends a request by tag (case-insensitive username); an unknown tag is NotFound and a malformed one ValidationFailed', async () => {
    const em = db().fork();
    const [a] = await users(em, 1);
    const b = await new UserService(em).register({ username: 'TagTarget' });
    const events = await eventsOf(() => a.sendFriendRequest(`tagtarget#${b.discriminator}`), a, b);
    expect(await row(a, b)).toEqual({ status: 'PENDING', requesterId: a.id, blockers: [] });
    expect(sortEvents(events)).toEqual(
      sortEvents([add(a, b, RelationshipType.PENDING_OUTGOING), add(b, a, RelationshipType.PENDING_INCOMING)]),
    );

    const unknownDiscriminator = b.discriminator === '0001' ? '0002' : '0001';
    const notFound = await refused(() => a.sendFriendRequest(`TagTarget#${unknownDiscriminator}`), NotFound);
    expect(notFound.code).toBe('NOT_FOUND');
    await refused(() => a.sendFriendRequest('nobody-at-all#0001'), NotFound);
    await refused(() => a.sendFriendRequest('TagTarget'), ValidationFailed);
    await refused(() => a.sendFriendRequest('TagTarget#1'), ValidationFailed);
    await refused(() => a.sendFriendRequest('TagTarget#0000'), ValidationFailed);
    await refused(() => a.sendFriendRequest('#0001'), ValidationFailed);
  });

  it('a pending request, then accept: friends, with the events each side sees', async () => {
    const em = db().fork();
    const [a, b] = await users(em, 2);
    const sent = await eventsOf(() => a.sendFriendRequest(b), a, b);
    expect(sortEvents(sent)).toEqual(
      sortEvents([add(a, b, RelationshipType.PENDING_OUTGOING), add(b, a, RelationshipType.PENDING_INCOMING)]),
    );
    expect(await row(a, b)).toEqual({ status: 'PENDING', requesterId: a.id, blockers: [] });

    // Asking twice changes nothing and says nothing.
    expect(await eventsOf(() => a.sendFriendRequest(b), a, b)).toEqual([]);
    // The sender cannot accept or decline their own request; the receiver cannot cancel it.
    const ownAccept = await refused(() => a.acceptFriendRequest(b), NoPendingRequest, [a, b]);
    expect(ownAccept.details).toEqual({ direction: 'incoming' });
    await refused(() => a.declineFriendRequest(b), NoPendingRequest, [a, b]);
    const wrongCancel = await refused(() => b.cancelFriendRequest(a), NoPendingRequest, [a, b]);
    expect(wrongCancel.details).toEqual({ direction: 'outgoing' });
    await refused(() => b.removeFriend(a), NotFriends, [a, b]);

    const accepted = await eventsOf(() => b.acceptFriendRequest(a), a, b);
    expect(sortEvents(accepted)).toEqual(
      sortEvents([add(a, b, RelationshipType.FRIEND), add(b, a, RelationshipType.FRIEND)]),
    );
    expect(await row(a, b)).toEqual({ status: 'FRIENDS', requesterId: null, blockers: [] });

    await refused(() => a.sendFriendRequest(b), AlreadyFriends, [a, b]);
    await refused(() => b.sendFriendRequest(a.tag), AlreadyFriends, [a, b]);
    await refused(() => b.acceptFriendRequest(a), AlreadyFriends, [a, b]);
    await refused(() => a.cancelFriendRequest(b), NoPendingRequest, [a, b]);
  });

  it('crossing requests make friends', async () => {
    const em = db().fork();
    const [a, b] = await users(em, 2);
    await a.sendFriendRequest(b);
    const crossed = await eventsOf(() => b.sendFriendRequest(a.tag), a, b);
    expect(sortEvents(crossed)).toEqual(
      sortEvents([add(a, b, RelationshipType.FRIEND), add(b, a, RelationshipType.FRIEND)]),
    );
    expect(await row(a, b)).toEqual({ status: 'FRIENDS', requesterId: null, blockers: [] });
  });

  it('decline and cancel end the request and delete the row', async () => {
    const em = db().fork();
    const [a, b, c] = await users(em, 3);
    await a.sendFriendRequest(b);
    const declined = await eventsOf(() => b.declineFriendRequest(a), a, b);
    expect(sortEvents(declined)).toEqual(
      sortEvents([remove(a, b, RelationshipType.PENDING_OUTGOING), remove(b, a, RelationshipType.PENDING_INCOMING)]),
    );
    expect(await row(a, b)).toBeNull();
    await refused(() => b.declineFriendRequest(a), NoPendingRequest, [a, b]);

    await a.sendFriendRequest(c);
    const cancelled = await eventsOf(() => a.cancelFriendRequest(c), a, c);
    expect(sortEvents(cancelled)).toEqual(
      sortEvents([remove(a, c, RelationshipType.PENDING_OUTGOING), remove(c, a, RelationshipType.PENDING_INCOMING)]),
    );
    expect(await row(a, c)).toBeNull();
    await refused(() => a.cancelFriendRequest(c), NoPendingRequest, [a, c]);

    // Both can start again.
    await c.sendFriendRequest(a);
    expect(await row(a, c)).toEqual({ status: 'PENDING', requesterId: c.id, blockers: [] });
  });

  it('remove ends a friendship for both sides', async () => {
    const em = db().fork();
    const [a, b] = await users(em, 2);
    await a.sendFriendRequest(b);
    await b.acceptFriendRequest(a);
    const removed = await eventsOf(() => b.removeFriend(a), a, b);
    expect(sortEvents(removed)).toEqual(
      sortEvents([remove(a, b, RelationshipType.FRIEND), remove(b, a, RelationshipType.FRIEND)]),
    );
    expect(await row(a, b)).toBeNull();
    await refused(() => a.removeFriend(b), NotFriends, [a, b]);
  });
});

describe('arguments', () => {
  it('an unknown user is NotFound (naming the User), and a non-user is ValidationFailed, before anything is written', async () => {
    const em = db().fork();
    const [a] = await users(em, 1);
    const ghost = em.getReference(User, '123456789012345');
    for (const op of [
      () => a.sendFriendRequest(ghost),
      () => ghost.sendFriendRequest(a),
      () => a.block(ghost),
      () => a.acceptFriendRequest(ghost),
    ]) {
      const error = await refused(op, NotFound);
      expect(error.details).toEqual({ entity: 'User', key: '123456789012345' });
    }
    for (const notAUser of [null, undefined, 42, {}, { id: 'abc' }, { id: 42 }, [a.id]]) {
      await refused(() => a.sendFriendRequest(notAUser as never), ValidationFailed);
      await refused(() => a.block(notAUser as never), ValidationFailed);
      await refused(() => a.removeFriend(notAUser as never), ValidationFailed);
    }
    const repo = em.getRepository(Relationship);
    await expect(repo.friendIds('not-an-id')).rejects.toBeInstanceOf(ValidationFailed);
    await expect(repo.isBlockedEitherWay(a.id, "1' or '1'='1")).rejects.toBeInstanceOf(ValidationFailed);
  });
});

describe('blocks', () => {
  it('a block in either direction refuses a request, with one identical error that does not say who blocked', async () => {
    const em = db().fork();
    const [a, b, c, d] = await users(em, 4);
    await a.block(b);
    await d.block(c);
    const errors = [
      await refused(() => b.sendFriendRequest(a), UserBlocked, [a, b]), // the blocked side asks
      await refused(() => a.sendFriendRequest(b), UserBlocked, [a, b]), // the blocking side asks
      await refused(() => b.sendFriendRequest(a.tag), UserBlocked, [a, b]),
      await refused(() => c.sendFriendRequest(d), UserBlocked, [c, d]),
      await refused(() => d.sendFriendRequest(c.tag), UserBlocked, [c, d]),
    ];
    const seen = errors.map((e) => ({
      name: e.name,
      code: e.code,
      message: e.message,
      details: e.details,
      json: JSON.stringify(e),
    }));
    for (const s of seen) expect(s).toEqual(seen[0]);
    expect(seen[0].code).toBe('USER_BLOCKED');
    for (const user of [a, b, c, d]) {
      expect(seen[0].json).not.toContain(user.id);
      expect(seen[0].json).not.toContain(user.username);
    }
    // Nor do the other operations tell the blocked side anything about the block.
    await refused(() => b.acceptFriendRequest(a), NoPendingRequest, [a, b]);
    await refused(() => b.removeFriend(a), NotFriends, [a, b]);
  });

  it('blocking ends a friendship: the blocker sees BLOCKED, the other loses the friend', async () => {
    const em = db().fork();
    const [a, b] = await users(em, 2);
    await a.sendFriendRequest(b);
    await b.acceptFriendRequest(a);
    const blocked = await eventsOf(() => b.block(a), a, b);
    expect(sortEvents(blocked)).toEqual(
      sortEvents([add(b, a, RelationshipType.BLOCKED), remove(a, b, RelationshipType.FRIEND)]),
    );
    expect(await row(a, b)).toEqual({ status: 'NONE', requesterId: null, blockers: [b.id] });
    // Blocking twice changes nothing and says nothing.
    expect(await eventsOf(() => b.block(a), a, b)).toEqual([]);
    expect(await row(a, b)).toEqual({ status: 'NONE', requesterId: null, blockers: [b.id] });
  });

  it('blocking ends a pending request, whichever side blocks', async () => {
    const em = db().fork();
    const [a, b, c, d] = await users(em, 4);
    await a.sendFriendRequest(b);
    const byReceiver = await eventsOf(() => b.block(a), a, b);
    expect(sortEvents(byReceiver)).toEqual(
      sortEvents([add(b, a, RelationshipType.BLOCKED), remove(a, b, RelationshipType.PENDING_OUTGOING)]),
    );
    expect(await row(a, b)).toEqual({ status: 'NONE', requesterId: null, blockers: [b.id] });
    await refused(() => b.acceptFriendRequest(a), NoPendingRequest, [a, b]);

    await c.sendFriendRequest(d);
    const bySender = await eventsOf(() => c.block(d), c, d);
    expect(sortEvents(bySender)).toEqual(
      sortEvents([add(c, d, RelationshipType.BLOCKED), remove(d, c, RelationshipType.PENDING_INCOMING)]),
    );
    expect(await row(c, d)).toEqual({ status: 'NONE', requesterId: null, blockers: [c.id] });
    await refused(() => d.acceptFriendRequest(c), NoPendingRequest, [c, d]);
  });

  it('unblock: only the blocker can lift their own block; mutual blocks are lifted one at a time', async () => {
    const em = db().fork();
    const [a, b] = await users(em, 2);
    await refused(() => a.unblock(b), NotBlocked, [a, b]);
    await a.block(b);
    await refused(() => b.unblock(a), NotBlocked, [a, b]);
    const mutual = await eventsOf(() => b.block(a), a, b);
    expect(mutual).toEqual([add(b, a, RelationshipType.BLOCKED)]);
    expect(await row(a, b)).toEqual({ status: 'NONE', requesterId: null, blockers: [a.id, b.id].sort() });

    const first = await eventsOf(() => a.unblock(b), a, b);
    expect(first).toEqual([remove(a, b, RelationshipType.BLOCKED)]);
    expect(await row(a, b)).toEqual({ status: 'NONE', requesterId: null, blockers: [b.id] });
    await refused(() => a.sendFriendRequest(b), UserBlocked, [a, b]);
    await refused(() => a.unblock(b), NotBlocked, [a, b]);

    const second = await eventsOf(() => b.unblock(a), a, b);
    expect(second).toEqual([remove(b, a, RelationshipType.BLOCKED)]);
    expect(await row(a, b)).toBeNull();

    // With no block left, a request goes through.
    await a.sendFriendRequest(b);
    expect(await row(a, b)).toEqual({ status: 'PENDING', requesterId: a.id, blockers: [] });
  });
});

describe('the friend cap', () => {
  /** Gives `user` `n` friends with raw SQL (fresh users with small ids, so the pair order varies by id). */
  async function seedFriends(user: User, n: number, idBase: bigint): Promise<void> {
    await db().sql(
      `insert into "User" (id, username, discriminator) select $1::bigint + g, 'capfriend' || $2::text, lpad(g::text, 4,
        '0') from generate_series(1, $3::int) g`,
      [idBase.toString(), idBase.toString(), n],
    );
    await db().sql(`insert into "UserPresence" ("userId") select $1::bigint + g from generate_series(1, $2::int) g`, [
      idBase.toString(),
      n,
    ]);
    await db().sql(
      `insert into "Relationship" ("userAId", "userBId", status, since)
       select least($1::bigint, $2::bigint + g), greatest($1::bigint, $2::bigint + g), 'FRIENDS', now()
         from generate_series(1, $3::int) g`,
      [user.id, idBase.toString(), n],
    );
  }

  it('at 1000 friends, the next request, accept or crossing request gives LimitReached and writes nothing', async () => {
    const em = db().fork();
    const [full, other, third] = await users(em, 3, 'cap');
    await seedFriends(full, 1000, 100_000_000_000n);
    expect(await em.getRepository(Relationship).friendIds(full.id)).toHaveLength(1000);

    const request = await refused(() => full.sendFriendRequest(other), LimitReached, [full, other]);
    expect(request.details).toEqual({ limit: 'friends', max: 1000 });
    expect(await row(full, other)).toBeNull();

    // Others may still ask; accepting would be the 1001st friend.
    await other.sendFriendRequest(full);
    await refused(() => full.acceptFriendRequest(other), LimitReached, [full, other]);
    // a crossing request is an accept
    await refused(() => full.sendFriendRequest(other.tag), LimitReached, [full, other]);
    expect(await row(full, other)).toEqual({ status: 'PENDING', requesterId: other.id, blockers: [] });

    // The side that is not full hits the cap of the other: the accept is refused too.
    await third.sendFriendRequest(full);
    await refused(() => full.acceptFriendRequest(third), LimitReached, [full, third]);

    // One friend fewer, and the accept goes through: exactly 1000 again.
    const dropped = await em.findOneOrFail(User, (100_000_000_000n + 1n).toString());
    await full.removeFriend(dropped);
    await full.acceptFriendRequest(other);
    expect(await em.getRepository(Relationship).friendIds(full.id)).toHaveLength(1000);
    await refused(() => full.acceptFriendRequest(third), LimitReached, [full, third]);
  });

  it('a user at the cap cannot be befriended by accepting their request either', async () => {
    const em = db().fork();
    const [full, other] = await users(em, 2, 'cap');
    await seedFriends(other, 1000, 200_000_000_000n);
    // Asking someone at the cap is allowed; it is their accept (or crossing request) that is refused.
    await full.sendFriendRequest(other);
    expect(await row(full, other)).toEqual({ status: 'PENDING', requesterId: full.id, blockers: [] });
    await refused(() => other.sendFriendRequest(full), LimitReached, [full, other]);
    await refused(() => other.acceptFriendRequest(full), LimitReached, [full, other]);
  });
});

describe('queries', () => {
  it('friends, pending in and out, blocked and mutual friends, from each point of view', async () => {
    const em = db().fork();
    const [a, b, c, d, e, f, g, h, i] = await users(em, 9, 'q');
    for (const [x, y] of [
      [a, b],
      [a, c],
      [a, d],
      [e, c],
      [e, d],
      [e, f],
    ] as const) {
      await x.sendFriendRequest(y);
      await y.acceptFriendRequest(x);
    }
    await a.sendFriendRequest(f); // A -> F pending
    await g.sendFriendRequest(a); // G -> A pending
    await a.block(h); // A blocks H
    await i.block(a); // I blocks A: A must not see it

    const repo = db().fork().getRepository(Relationship);
    expect(ids(await repo.friendsOf(a.id))).toEqual(ids([b, c, d]));
    expect((await repo.friendIds(a.id)).sort()).toEqual(ids([b, c, d]));
    expect(ids(await repo.friendsOf(e.id))).toEqual(ids([c, d, f]));
    expect(ids(await repo.mutualFriends(a.id, e.id))).toEqual(ids([c, d]));
    expect(ids(await repo.mutualFriends(e.id, a.id))).toEqual(ids([c, d]));
    expect(await repo.mutualFriends(a.id, h.id)).toEqual([]);

    const outgoing = await repo.pendingOutgoing(a.id);
    expect(userIdsOf(outgoing)).toEqual([f.id]);
    expect(outgoing[0].type).toBe(RelationshipType.PENDING_OUTGOING);
    expect(userIdsOf(await repo.pendingIncoming(a.id))).toEqual([g.id]);
    expect(userIdsOf(await repo.pendingIncoming(f.id))).toEqual([a.id]);
    expect(userIdsOf(await repo.pendingOutgoing(g.id))).toEqual([a.id]);
    expect(userIdsOf(await repo.blockedBy(a.id))).toEqual([h.id]);
    expect(userIdsOf(await repo.blockedBy(i.id))).toEqual([a.id]);
    expect(await repo.blockedBy(h.id)).toEqual([]);

    const views = await repo.relationshipsOf(a.id);
    const byUser = Object.fromEntries(views.map((v) => [v.userId, v.type]));
    expect(byUser).toEqual({
      [b.id]: RelationshipType.FRIEND,
      [c.id]: RelationshipType.FRIEND,
      [d.id]: RelationshipType.FRIEND,
      [f.id]: RelationshipType.PENDING_OUTGOING,
      [g.id]: RelationshipType.PENDING_INCOMING,
      [h.id]: RelationshipType.BLOCKED,
    });
    expect(Object.keys(byUser)).not.toContain(i.id);

    expect(await repo.isBlockedEitherWay(a.id, i.id)).toBe(true);
    expect(await repo.isBlockedEitherWay(i.id, a.id)).toBe(true);
    expect(await repo.isBlockedEitherWay(h.id, a.id)).toBe(true);
    expect(await repo.isBlockedEitherWay(a.id, b.id)).toBe(false);
    expect(await repo.isBlockedEitherWay(a.id, e.id)).toBe(false);
    expect(await repo.statusBetween(a.id, b.id)).toBe(RelationshipStatus.FRIENDS);
    expect(await repo.statusBetween(f.id, a.id)).toBe(RelationshipStatus.PENDING);
    expect(await repo.statusBetween(a.id, h.id)).toBe(RelationshipStatus.NONE);
    expect(await repo.statusBetween(a.id, e.id)).toBe(RelationshipStatus.NONE);
  });
});
