import { LockMode, raw } from '@mikro-orm/core';
import { EntityRepository, type EntityManager } from '@mikro-orm/postgresql';
import { DiscriminatorsExhausted, NotFound, ValidationFailed } from '../../domain/errors';
import { parseTag, pickFreeDiscriminator, usernameKey, validateProfile, validateUsername } from '../../domain/identity/username';
import { lockKeys, transact } from '../../db/unit-of-work';
import { type NewUser, PremiumType, User } from './User';
import type { PresenceUpdate, UserPresence } from './UserPresence';

export interface Registration {
  username: string;
  displayName?: string | null;
  premiumType?: PremiumType;
}

export class UserRepository extends EntityRepository<User> {
  /**
   * Registers a user with a free discriminator for the username. Registrations of one name are
   * serialised by an advisory lock on the name, so the free set read is the free set written; the
   * unique index on (lower(username), discriminator) is the backstop.
   */
  async register(input: Registration): Promise<User> {
    if (typeof input !== 'object' || input === null) throw new ValidationFailed('registration', 'must be an object');
    const username = validateUsername(input.username);
    const premiumType = input.premiumType ?? PremiumType.NONE;
    if (!Object.values(PremiumType).includes(premiumType)) throw new ValidationFailed('premiumType', `must be one of ${Object.values(PremiumType).join(', ')}`);
    const { displayName } = validateProfile({ displayName: input.displayName ?? null });
    return transact(this.em, async (tx) => {
      const discriminator = await this.allocateDiscriminator(tx, username);
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
    const username = validateUsername(newUsername);
    return transact(this.em, async (tx) => {
      const fresh = await tx.findOneOrFail(User, user.id, { refresh: true, lockMode: LockMode.PESSIMISTIC_WRITE, failHandler: () => new NotFound('User', user.id) });
      if (fresh.username === username) return fresh;
      if (usernameKey(fresh.username) === usernameKey(username)) {
        fresh.username = username; // a change of case keeps the same (name, discriminator) key
      } else {
        fresh.discriminator = await this.allocateDiscriminator(tx, username, fresh.discriminator);
        fresh.username = username;
      }
      fresh.userChanged();
      return fresh;
    });
  }

  async setPresence(user: User, update: PresenceUpdate): Promise<UserPresence> {
    return transact(this.em, async (tx) => {
      const fresh = await tx.findOneOrFail(User, user.id, { populate: ['presence'], failHandler: () => new NotFound('User', user.id) });
      const presence = fresh.presence.getEntity();
      presence.apply(update);
      return presence;
    });
  }

  findByTag(tag: string): Promise<User | null> {
    const { username, discriminator } = parseTag(tag);
    return this.em.findOne(User, { [raw('lower("username")')]: usernameKey(username), discriminator } as never);
  }

  async findByTagOrFail(tag: string): Promise<User> {
    const user = await this.findByTag(tag);
    if (!user) throw new NotFound('User', tag);
    return user;
  }

  async findOneOrNotFound(id: string): Promise<User> {
    const user = await this.em.findOne(User, { id });
    if (!user) throw new NotFound('User', id);
    return user;
  }

  private async allocateDiscriminator(tx: EntityManager, username: string, preferred?: string): Promise<string> {
    const key = usernameKey(username);
    await lockKeys(tx, [`username:${key}`]);
    const rows: { discriminator: string }[] = await tx.execute('select "discriminator" from "User" where lower("username") = ?', [key]);
    const discriminator = pickFreeDiscriminator(new Set(rows.map((r) => r.discriminator)), preferred);
    if (!discriminator) throw new DiscriminatorsExhausted(username);
    return discriminator;
  }
}
