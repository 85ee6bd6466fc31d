import { describe, expect, it } from 'vitest';
import type { EntityManager } from '@mikro-orm/postgresql';
import { LimitReached, NoPendingRequest } from '../src/domain/errors';
import { RelationshipType } from '../src/domain/identity/relationships';
import { User } from '../src/entities/user/User';
import { fulfilled, race, rejected, useTestDatabase } from './support/db';
import { UserService } from '../src/identity/user-service';

const db = useTestDatabase({ poolSize: 30 });

/** Registers n users at once (itself a race on distinct names). */
async function registerMany(n: number, prefix: string): Promise<User[]> {
  const results = await race(db(), n, (em, i) => new UserService(em).register({ username: `${prefix}${i}` }));
  expect(rejected(results)).toEqual([]);
  return fulfilled(results);
}

const load = (em: EntityManager, id: string) => em.findOneOrFail(User, id);

interface PairRow {
  a: string;
  b: string;
  status: string;
  requesterId: string | null;
  aBlocksB: boolean;
  bBlocksA: boolean;
}

async function rowsAmong(userIds: string[]): Promise<PairRow[]> {
  return db().sql<PairRow>(
    `select "userAId"::text as a, "userBId"::text as b, status, "requesterId"::text as "requesterId", "aBlocksB",
      "bBlocksA"
       from "Relationship" where "userAId" = any($1::bigint[]) or "userBId" = any($1::bigint[])`,
    [userIds],
  );
}

interface Ev {
  event: string;
  to: string;
  about: string;
  type: number;
}

async function relationshipEvents(userIds: string[]): Promise<Ev[]> {
  const rows = await db().sql<{ type: string; payload: { id: string; type: number }; userIds: string[] }>(
    `select type, payload, "userIds"::text[] as "userIds" from "DomainEvent"
      where type like 'RELATIONSHIP_%' and "userIds" && $1::bigint[] order by id`,
    [userIds],
  );
  return rows.map((r) => ({ event: r.type, to: r.userIds[0], about: r.payload.id, type: r.payload.type }));
}

const key = (x: string, y: string) => (BigInt(x) < BigInt(y) ? `${x}:${y}` : `${y}:${x}`);
const pairOf = (e: Ev) => key(e.to, e.about);
const sorted = (events: Ev[]) =>
  [...events].sort((x, y) => `${x.to}${x.event}${x.type}`.localeCompare(`${y.to}${y.event}${y.type}`));

describe('relationship races', () => {
  it('100 pairs sending each other requests at the same moment end as exactly one friendship each, with no errors', async () => {
    const people = await registerMany(200, 'cross');
    const pairs = Array.from({ length: 100 }, (_, k) => [people[2 * k], people[2 * k + 1]] as const);

    // 200 operations at once: for pair k, operation 2k is a -> b and 2k+1 is b -> a.
    const results = await race(db(), 200, async (em, i) => {
      const [a, b] = pairs[Math.floor(i / 2)];
      const [from, to] = i % 2 === 0 ? [a, b] : [b, a];
      const me = await load(em, from.id);
      // Half by object, half by tag, so both paths meet in the race.
      return me.sendFriendRequest(i % 4 < 2 ? await load(em, to.id) : to.tag);
    });
    expect(rejected(results)).toEqual([]);

    const allIds = people.map((u) => u.id);
    const rows = await rowsAmong(allIds);
    expect(rows).toHaveLength(100);
    const byPair = new Map(rows.map((r) => [key(r.a, r.b), r]));
    for (const [a, b] of pairs) {
      expect(byPair.get(key(a.id, b.id))).toMatchObject({
        status: 'FRIENDS',
        requesterId: null,
        aBlocksB: false,
        bBlocksA: false,
      });
    }

    // Each pair's events tell one consistent story: one request (outgoing to one, incoming to the
    // other), then the crossing request made them friends.
    const events = await relationshipEvents(allIds);
    for (const [a, b] of pairs) {
      const story = events.filter((e) => pairOf(e) === key(a.id, b.id));
      expect(story).toHaveLength(4);
      const [first, second] = sorted(story.slice(0, 2));
      expect([first.type, second.type].sort()).toEqual([
        RelationshipType.PENDING_INCOMING,
        RelationshipType.PENDING_OUTGOING,
      ]);
      expect(story.slice(0, 2).every((e) => e.event === 'RELATIONSHIP_ADD')).toBe(true);
      expect(sorted(story.slice(2))).toEqual(
        sorted([
          { event: 'RELATIONSHIP_ADD', to: a.id, about: b.id, type: RelationshipType.FRIEND },
          { event: 'RELATIONSHIP_ADD', to: b.id, about: a.id, type: RelationshipType.FRIEND },
        ]),
      );
    }
  });

  it('a block racing an accept never leaves a friendship with a block; each pair ends as one of the two serial orders', async () => {
    const n = 60;
    const people = await registerMany(2 * n, 'blockrace');
    const pairs = Array.from({ length: n }, (_, k) => ({ requester: people[2 * k], receiver: people[2 * k + 1] }));
    // Every pair starts with a pending request from `requester` to `receiver`.
    const setup = await race(db(), n, async (em, k) =>
      (await load(em, pairs[k].requester.id)).sendFriendRequest(pairs[k].receiver.tag),
    );
    expect(rejected(setup)).toEqual([]);
    const allIds = people.map((u) => u.id);
    const before = await relationshipEvents(allIds);
    expect(before).toHaveLength(2 * n);

    // Pair k: the receiver accepts while someone blocks (the requester for even k, the receiver
    // for odd k); for k % 4 >= 2 the block is launched first.
    const blockerOf = (k: number) => (k % 2 === 0 ? pairs[k].requester : pairs[k].receiver);
    const blockFirst = (k: number) => k % 4 >= 2;
    const results = await race(db(), 2 * n, async (em, i) => {
      const k = Math.floor(i / 2);
      const isBlock = (i % 2 === 0) === blockFirst(k);
      const { requester, receiver } = pairs[k];
      if (isBlock) {
        const blocker = blockerOf(k);
        const target = blocker === requester ? receiver : requester;
        return { k, op: 'block' as const, result: await (await load(em, blocker.id)).block(await load(em, target.id)) };
      }
      return {
        k,
        op: 'accept' as const,
        result: await (await load(em, receiver.id)).acceptFriendRequest(await load(em, requester.id)),
      };
    });

    // The table never holds a friendship across a block (the check constraint is the backstop; here
    // we also check the outcome rather than trust it).
    const rows = await rowsAmong(allIds);
    expect(rows.filter((r) => r.status !== 'NONE' && (r.aBlocksB || r.bBlocksA))).toEqual([]);
    expect(rows).toHaveLength(n);

    const events = await relationshipEvents(allIds);
    let acceptedFirst = 0;
    let blockedFirst = 0;
    for (let k = 0; k < n; k++) {
      const { requester, receiver } = pairs[k];
      const blocker = blockerOf(k);
      const other = blocker === requester ? receiver : requester;
      const blockOutcome = results[2 * k + (blockFirst(k) ? 0 : 1)];
      const acceptOutcome = results[2 * k + (blockFirst(k) ? 1 : 0)];
      // The block always succeeds.
      expect(blockOutcome.status).toBe('fulfilled');
      // Either serial order ends the same way: only the block remains.
      const row = rows.find((r) => key(r.a, r.b) === key(requester.id, receiver.id))!;
      expect(row.status).toBe('NONE');
      expect(row.requesterId).toBeNull();
      expect({ aBlocksB: row.aBlocksB, bBlocksA: row.bBlocksA }).toEqual(
        BigInt(blocker.id) < BigInt(other.id)
          ? { aBlocksB: true, bBlocksA: false }
          : { aBlocksB: false, bBlocksA: true },
      );

      const story = events.filter((e) => pairOf(e) === key(requester.id, receiver.id)).slice(2);
      if (acceptOutcome.status === 'fulfilled') {
        // accept, then block: friends first, then the block ends the friendship.
        acceptedFirst++;
        expect(sorted(story.slice(0, 2))).toEqual(
          sorted([
            { event: 'RELATIONSHIP_ADD', to: requester.id, about: receiver.id, type: RelationshipType.FRIEND },
            { event: 'RELATIONSHIP_ADD', to: receiver.id, about: requester.id, type: RelationshipType.FRIEND },
          ]),
        );
        expect(sorted(story.slice(2))).toEqual(
          sorted([
            { event: 'RELATIONSHIP_ADD', to: blocker.id, about: other.id, type: RelationshipType.BLOCKED },
            { event: 'RELATIONSHIP_REMOVE', to: other.id, about: blocker.id, type: RelationshipType.FRIEND },
          ]),
        );
      } else {
        // block, then accept: the block ended the request, so there was nothing to accept.
        blockedFirst++;
        expect(acceptOutcome.reason).toBeInstanceOf(NoPendingRequest);
        const otherSaw = other === requester ? RelationshipType.PENDING_OUTGOING : RelationshipType.PENDING_INCOMING;
        expect(sorted(story)).toEqual(
          sorted([
            { event: 'RELATIONSHIP_ADD', to: blocker.id, about: other.id, type: RelationshipType.BLOCKED },
            { event: 'RELATIONSHIP_REMOVE', to: other.id, about: blocker.id, type: otherSaw },
          ]),
        );
      }
    }
    expect(acceptedFirst + blockedFirst).toBe(n);
  });

  it('concurrent accepts never take a user past the friend cap', async () => {
    const [hub] = await registerMany(1, 'hub');
    const askers = await registerMany(12, 'asker');
    // The hub has 998 friends (seeded with raw SQL): room for exactly 2 more.
    const base = 300_000_000_000n;
    await db().sql(
      `insert into "User" (id, username, discriminator) select $1::bigint + g, 'hubfriend', lpad(g::text, 4, '0')
        from generate_series(1, 998) g`,
      [base.toString()],
    );
    await db().sql(`insert into "UserPresence" ("userId") select $1::bigint + g from generate_series(1, 998) g`, [
      base.toString(),
    ]);
    await db().sql(
      `insert into "Relationship" ("userAId", "userBId", status, since)
       select least($1::bigint, $2::bigint + g), greatest($1::bigint, $2::bigint + g), 'FRIENDS', now()
         from generate_series(1, 998) g`,
      [hub.id, base.toString()],
    );
    const asked = await race(db(), askers.length, async (em, i) =>
      (await load(em, askers[i].id)).sendFriendRequest(hub.tag),
    );
    expect(rejected(asked)).toEqual([]);

    const results = await race(db(), askers.length, async (em, i) =>
      (await load(em, hub.id)).acceptFriendRequest(await load(em, askers[i].id)),
    );
    expect(fulfilled(results)).toHaveLength(2);
    const errors = rejected(results);
    expect(errors).toHaveLength(askers.length - 2);
    for (const error of errors) expect(error).toBeInstanceOf(LimitReached);

    const [count] = await db().sql<{ n: string }>(
      `select count(*)::text as n from "Relationship" where ("userAId" = $1 or "userBId" = $1) and status = 'FRIENDS'`,
      [hub.id],
    );
    expect(count.n).toBe('1000');
    const [pending] = await db().sql<{ n: string }>(
      `select count(*)::text as n from "Relationship" where ("userAId" = $1 or "userBId" = $1) and status = 'PENDING'`,
      [hub.id],
    );
    expect(pending.n).toBe(String(askers.length - 2));
  });
});

describe('username races', () => {
  it('concurrent renames (and registrations) into one username get distinct discriminators; free ones are kept', async () => {
    // Seeded with raw SQL so discriminators collide on purpose: ten users share 0042, one holds the
    // 0007 that the existing "Converge#0007" already has, and twenty have discriminators of their own.
    const base = 400_000_000_000n;
    const seeded: { id: string; discriminator: string }[] = [];
    for (let g = 0; g < 31; g++) {
      const discriminator = g < 10 ? '0042' : g === 10 ? '0007' : String(5000 + g).padStart(4, '0');
      seeded.push({ id: (base + BigInt(g)).toString(), discriminator });
    }
    await db().sql(`insert into "User" (id, username, discriminator) values ($1, 'Converge', '0007')`, [
      (base + 100n).toString(),
    ]);
    await db().sql(
      `insert into "User" (id, username, discriminator)
       select id, 'renamer' || ord, d from unnest($1::bigint[], $2::text[]) with ordinality as s(id, d, ord)`,
      [seeded.map((s) => s.id), seeded.map((s) => s.discriminator)],
    );
    await db().sql(`insert into "UserPresence" ("userId") select id from "User" where id >= $1 and id <= $2`, [
      base.toString(),
      (base + 100n).toString(),
    ]);

    const spellings = ['converge', 'Converge', 'CONVERGE', 'conVerge'];
    const results = await race(db(), seeded.length + 20, async (em, i) => {
      if (i < seeded.length) return (await load(em, seeded[i].id)).changeUsername(spellings[i % spellings.length]);
      return new UserService(em).register({ username: spellings[i % spellings.length] });
    });
    expect(rejected(results)).toEqual([]);

    const rows = await db().sql<{ id: string; username: string; discriminator: string }>(
      `select id::text as id, username, discriminator from "User" where lower(username) = 'converge'`,
    );
    expect(rows).toHaveLength(1 + seeded.length + 20);
    expect(new Set(rows.map((r) => r.discriminator)).size).toBe(rows.length);

    const now = new Map(rows.map((r) => [r.id, r]));
    expect(now.get((base + 100n).toString())!.discriminator).toBe('0007');
    // A registration picks at random, so it may have taken a discriminator before its holder got
    // there; otherwise every renamer whose discriminator is free under the new name keeps it.
    const registered = new Set(
      fulfilled(results)
        .slice(seeded.length)
        .map((u) => u.discriminator),
    );
    const keeps42 = seeded.slice(0, 10).filter((s) => now.get(s.id)!.discriminator === '0042');
    expect(keeps42).toHaveLength(registered.has('0042') ? 0 : 1);
    expect(now.get(seeded[10].id)!.discriminator).not.toBe('0007');
    for (const s of seeded.slice(11)) {
      if (!registered.has(s.discriminator)) expect(now.get(s.id)!.discriminator).toBe(s.discriminator);
    }
    // Each rename announced itself with the discriminator it ended with.
    const events = await db().sql<{ payload: { user: { id: string; username: string; discriminator: string } } }>(
      `select payload from "DomainEvent" where type = 'USER_UPDATE' and "userIds" && $1::bigint[]`,
      [seeded.map((s) => s.id)],
    );
    expect(events).toHaveLength(seeded.length);
    for (const { payload } of events) {
      expect(payload.user.discriminator).toBe(now.get(payload.user.id)!.discriminator);
      expect(payload.user.username).toBe(now.get(payload.user.id)!.username);
    }
  });

  it('two renames of one user at once leave one consistent name', async () => {
    const [user] = await registerMany(1, 'twice');
    const results = await race(db(), 2, async (em, i) =>
      (await load(em, user.id)).changeUsername(i === 0 ? 'FirstChoice' : 'SecondChoice'),
    );
    expect(rejected(results)).toEqual([]);
    const [row] = await db().sql<{ username: string; discriminator: string }>(
      `select username, discriminator from "User" where id = $1`,
      [user.id],
    );
    expect(['FirstChoice', 'SecondChoice']).toContain(row.username);
    const events = await db().sql<{ payload: { user: { username: string } } }>(
      `select payload from "DomainEvent" where type = 'USER_UPDATE' and "userIds" && $1::bigint[] order by id`,
      [[user.id]],
    );
    expect(events.map((e) => e.payload.user.username)).toHaveLength(2);
    expect(events[1].payload.user.username).toBe(row.username);
  });
});
