import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { DiscriminatorsExhausted, NotFound, ValidationFailed } from '../domain/errors';
import { userIdOf } from '../domain/identity/ids';
import { pickFreeDiscriminator, validateProfile, validateUsername } from '../domain/identity/username';
import { transact } from '../db/unit-of-work';
import { type NewUser, PremiumType, User } from '../entities/user/User';
import { type PresenceUpdate, UserPresence } from '../entities/user/UserPresence';

export interface Registration {
  username: string;
  displayName?: string | null;
  premiumType?: PremiumType;
}

/** Accounts: registration, renames and presence. Lookups (findByTag, ...) are on UserRepository. */
export class UserService {
  constructor(private readonly em: EntityManager) {}

  /**
   * Registers a user with a free discriminator for the username. Registrations of one name are
   * serialised by an advisory lock on the name, so the free set read is the free set written; the
   * unique index on (lower(username), discriminator) is the backstop.
   */
  async register(input: Registration): Promise<User> {
    if (typeof input !== 'object' || input === null) throw new ValidationFailed('registration', 'must be an object');
    const username = validateUsername(input.username);
    const premiumType = input.premiumType ?? PremiumType.NONE;
    if (!Object.values(PremiumType).includes(premiumType))
      throw new ValidationFailed('premiumType', `must be one of ${Object.values(PremiumType).join(', ')}`);
    const { displayName } = validateProfile({ displayName: input.displayName ?? null });
    return transact(this.em, async (tx) => {
      const discriminator = await allocateDiscriminator(tx, username);
      const props: NewUser = { username, discriminator, displayName, premiumType };
      const user = new User(props);
      tx.persist(user);
      return user;
    });
  }

  /**
   * Renames a user, keeping the discriminator when it is free under the new name and allocating a
   * new one otherwise. The user row is locked so two renames of one user cannot interleave.
   */
  async changeUsername(user: User, newUsername: string): Promise<User> {
    const id = userIdOf(user);
    const username = validateUsername(newUsername);
    return transact(this.em, async (tx) => {
      const fresh = await tx.findOneOrFail(User, id, {
        refresh: true,
        lockMode: LockMode.PESSIMISTIC_WRITE,
        failHandler: () => new NotFound('User', id),
      });
      if (fresh.username === username) return fresh;
      // The user's own row does not count as taken, so a change of case (same key in the database)
      // keeps the discriminator, as does a new name under which it is free.
      fresh.discriminator = await allocateDiscriminator(tx, username, {
        preferred: fresh.discriminator,
        exceptUserId: fresh.id,
      });
      fresh.username = username;
      fresh.userChanged();
      return fresh;
    });
  }

  /**
   * Applies a presence change to the stored presence, read fresh under a row lock: a presence this
   * EntityManager loaded earlier may be stale, and comparing against it could skip a real change.
   */
  async setPresence(user: User, update: PresenceUpdate): Promise<UserPresence> {
    const id = userIdOf(user);
    return transact(this.em, async (tx) => {
      let presence = await tx.findOne(
        UserPresence,
        { user: id },
        { refresh: true, lockMode: LockMode.PESSIMISTIC_WRITE },
      );
      if (!presence) {
        // Every registration creates the presence; a user inserted by other means gets one here.
        const owner = await tx.findOneOrFail(User, id, { failHandler: () => new NotFound('User', id) });
        presence = new UserPresence(owner);
        tx.persist(presence);
      }
      presence.apply(update);
      return presence;
    });
  }
}

/**
 * Picks a free discriminator for `username` under a lock on the name. "The same name" is decided
 * by the database's lower(), the expression of the unique index: computing it in JavaScript
 * instead disagrees with PostgreSQL for non-ASCII letters under some collations (the C locale
 * lowers ASCII only), and then allocation misses taken discriminators and the index refuses them.
 */
async function allocateDiscriminator(
  tx: EntityManager,
  username: string,
  options: { preferred?: string; exceptUserId?: string } = {},
): Promise<string> {
  await tx.execute(`select pg_advisory_xact_lock(hashtextextended('username:' || lower(?), 0))`, [username]);
  const rows: { discriminator: string }[] = await tx.execute(
    'select "discriminator" from "User" where lower("username") = lower(?) and "id" <> ?',
    [username, options.exceptUserId ?? '0'],
  );
  const discriminator = pickFreeDiscriminator(new Set(rows.map((r) => r.discriminator)), options.preferred);
  if (!discriminator) throw new DiscriminatorsExhausted(username);
  return discriminator;
}
