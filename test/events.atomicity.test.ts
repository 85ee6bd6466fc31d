import { describe, expect, it } from 'vitest';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ValidationFailed } from '../src/domain/errors';
import { commit, transact } from '../src/db/unit-of-work';
import { DomainEvent } from '../src/entities/events/DomainEvent';
import { User } from '../src/entities/user/User';
import { PresenceStatus } from '../src/entities/user/UserPresence';
import { useTestDatabase } from './support/db';
import { UserService } from '../src/identity/user-service';

const db = useTestDatabase({ poolSize: 10 });

interface EventRow {
  id: string;
  type: string;
  /** JSON; these tests read USER_UPDATE's user and PRESENCE_UPDATE's status. */
  payload: { user?: { id: string; bio: string | null }; status?: string };
  userIds: string[] | null;
}

/** Events about one user, straight from the table, in id order. */
async function eventsAbout(userId: string): Promise<EventRow[]> {
  return db().sql<EventRow>(
    `select id::text as id, type, payload, "userIds"::text[] as "userIds" from "DomainEvent"
      where $1::bigint = any("userIds") order by id`,
    [userId],
  );
}

async function bioOf(userId: string): Promise<string | null> {
  const rows = await db().sql<{ bio: string | null }>(`select bio from "User" where id = $1`, [userId]);
  return rows[0].bio;
}

let seq = 0;
async function newUser(): Promise<User> {
  return new UserService(db().fork()).register({ username: `atom${++seq}` });
}

class Boom extends Error {}

describe('events commit with their change, and only then', () => {
  it('a committed profile change always has exactly its USER_UPDATE event, with the new state', async () => {
    const user = await newUser();
    const em = db().fork();
    const loaded = await em.findOneOrFail(User, user.id);
    loaded.updateProfile({ bio: 'committed bio' });
    await commit(em);
    expect(await bioOf(user.id)).toBe('committed bio');
    const events = await eventsAbout(user.id);
    expect(events.map((e) => e.type)).toEqual(['USER_UPDATE']);
    expect(events[0].payload.user).toMatchObject({ id: user.id, bio: 'committed bio' });
    expect(events[0].userIds).toEqual([user.id]);
  });

  it('a transaction that changes a profile, flushes, then throws leaves neither change nor event', async () => {
    const user = await newUser();
    await expect(
      transact(db().fork(), async (tx) => {
        const loaded = await tx.findOneOrFail(User, user.id);
        loaded.updateProfile({ bio: 'never committed' });
        await tx.flush(); // the event row is written inside the transaction...
        const inside = await tx.execute(
          `select count(*)::int as n from "DomainEvent" where ?::bigint = any("userIds")`,
          [user.id],
        );
        expect(inside[0].n).toBe(1); // ...and visible to it,
        throw new Boom('the operation fails after its flush');
      }),
    ).rejects.toBeInstanceOf(Boom);
    expect(await bioOf(user.id)).toBeNull(); // ...but the rollback takes both away.
    expect(await eventsAbout(user.id)).toEqual([]);
  });

  it('a flush that fails on a constraint leaves no event, and a later successful flush of the same change has its event', async () => {
    const alice = await newUser();
    const bob = await newUser();
    const em = db().fork();
    const [a, b] = await Promise.all([em.findOneOrFail(User, alice.id), em.findOneOrFail(User, bob.id)]);
    const bobsDiscriminator = b.discriminator;
    a.updateProfile({ bio: 'alice retries' });
    b.discriminator = '0000'; // violates user_discriminator_check: the whole flush fails
    await expect(commit(em)).rejects.toBeInstanceOf(ValidationFailed);
    expect(await bioOf(alice.id)).toBeNull();
    expect(await eventsAbout(alice.id)).toEqual([]);

    // The caller repairs the bad value and flushes again: Alice's change commits, so must its event.
    b.discriminator = bobsDiscriminator;
    await commit(em);
    expect(await bioOf(alice.id)).toBe('alice retries');
    const events = await eventsAbout(alice.id);
    expect(events.map((e) => e.type)).toEqual(['USER_UPDATE']);
    expect(events[0].payload.user?.bio).toBe('alice retries');
    expect(await eventsAbout(bob.id)).toEqual([]);
  });

  it('a change that no retry re-records still gets its event after a failed first attempt (presence)', async () => {
    // setPresence-style code applies the same update again on retry; apply() sees no difference the
    // second time and records nothing. The first attempt's event must not be lost with its flush.
    const alice = await newUser();
    const bob = await newUser();
    const em = db().fork();
    const a = await em.findOneOrFail(User, alice.id, { populate: ['presence'] });
    const b = await em.findOneOrFail(User, bob.id);
    const original = b.discriminator;
    const presence = a.presence.getEntity();
    expect(presence.apply({ status: PresenceStatus.DND })).toBe(true);
    b.discriminator = '0000';
    await expect(commit(em)).rejects.toBeInstanceOf(ValidationFailed);
    expect(presence.apply({ status: PresenceStatus.DND })).toBe(false); // the retry records nothing new
    b.discriminator = original;
    await commit(em);
    const rows = await db().sql<{ status: string }>(`select status from "UserPresence" where "userId" = $1`, [
      alice.id,
    ]);
    expect(rows[0].status).toBe('DND');
    const events = await eventsAbout(alice.id);
    expect(events.map((e) => [e.type, e.payload.status])).toEqual([['PRESENCE_UPDATE', 'DND']]);
  });

  it('a flush whose change was written before the failure is not re-announced without the change', async () => {
    // After a failed flush MikroORM treats changes it had already sent as written; the events must
    // follow the ORM's view, never announcing a change the next flush will not write.
    const alice = await newUser();
    const em = db().fork();
    await transact(em, async (tx) => {
      const a = await tx.findOneOrFail(User, alice.id);
      a.updateProfile({ bio: 'flushed then rolled back' });
      await tx.flush();
      throw new Boom('rollback');
    }).catch((error) => {
      if (!(error instanceof Boom)) throw error;
    });
    await commit(em); // nothing pending: neither the change nor its event may appear
    expect(await bioOf(alice.id)).toBeNull();
    expect(await eventsAbout(alice.id)).toEqual([]);
  });

  it('events of one flush are written in the order they were recorded, across aggregates', async () => {
    const alice = await newUser();
    const bob = await newUser();
    const em = db().fork();
    const [a, b] = await Promise.all([em.findOneOrFail(User, alice.id), em.findOneOrFail(User, bob.id)]);
    a.updateProfile({ bio: 'first' });
    b.updateProfile({ bio: 'second' });
    a.updateProfile({ bio: 'third' });
    await commit(em);
    const rows = await db().sql<{ bio: string }>(
      `select payload->'user'->>'bio' as bio from "DomainEvent" where "userIds" && $1::bigint[] order by id`,
      [[alice.id, bob.id]],
    );
    expect(rows.map((r) => r.bio)).toEqual(['first', 'second', 'third']);
  });

  it('outbox rows do not stay in the identity map after a flush', async () => {
    const alice = await newUser();
    const em: EntityManager = db().fork();
    const a = await em.findOneOrFail(User, alice.id);
    for (let i = 0; i < 5; i++) {
      a.updateProfile({ bio: `bio ${i}` });
      await commit(em);
    }
    const cached = [...em.getUnitOfWork().getIdentityMap()].filter((entity) => entity instanceof DomainEvent);
    expect(cached).toEqual([]);
    expect((await eventsAbout(alice.id)).length).toBe(5);
  });

  it('every committed domain operation of the identity aggregates has its event, and each concurrent failure has none', async () => {
    const users = await Promise.all(Array.from({ length: 8 }, () => newUser()));
    // Half the operations commit, half roll back after their flush; run them all at once.
    const outcomes = await Promise.allSettled(
      users.map((user, i) =>
        transact(db().fork(), async (tx) => {
          const loaded = await tx.findOneOrFail(User, user.id);
          loaded.updateProfile({ bio: `op ${i}` });
          await tx.flush();
          if (i % 2 === 1) throw new Boom(`op ${i} fails`);
        }),
      ),
    );
    for (const [i, user] of users.entries()) {
      const events = await eventsAbout(user.id);
      if (i % 2 === 0) {
        expect(outcomes[i].status).toBe('fulfilled');
        expect(await bioOf(user.id)).toBe(`op ${i}`);
        expect(events.map((e) => e.payload.user?.bio)).toEqual([`op ${i}`]);
      } else {
        expect(outcomes[i].status).toBe('rejected');
        expect(await bioOf(user.id)).toBeNull();
        expect(events).toEqual([]);
      }
    }
  });
});
