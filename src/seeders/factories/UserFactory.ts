import { Faker, en } from '@faker-js/faker';
import type { EntityData } from '@mikro-orm/core';
import { Factory } from '@mikro-orm/seeder';
import { validateUsername } from '../../domain/identity/username';
import { PremiumType, User } from '../../entities/user/User';
import { PresenceStatus } from '../../entities/user/UserPresence';

/** A seeded faker: the same seed gives the same world. */
export function seededFaker(seed: number): Faker {
  const faker = new Faker({ locale: [en] });
  faker.seed(seed);
  return faker;
}

export function seedFromEnvironment(fallback = 42): number {
  const fromArgs = process.argv.find((a) => a.startsWith('--seed='))?.slice('--seed='.length);
  const value = Number(fromArgs ?? process.env.SEED ?? fallback);
  return Number.isInteger(value) ? value : fallback;
}

const PRESENCE_SPREAD: [PresenceStatus, number][] = [
  [PresenceStatus.ONLINE, 0.35],
  [PresenceStatus.IDLE, 0.15],
  [PresenceStatus.DND, 0.1],
  [PresenceStatus.INVISIBLE, 0.05],
  [PresenceStatus.OFFLINE, 0.35],
];

/**
 * Users with realistic profiles. Discriminators are not the factory's business: pass
 * `discriminator` in the input (the seeder allocates them against what the database holds).
 */
export class UserFactory extends Factory<User, Partial<EntityData<User>> & { discriminator?: string }> {
  readonly model = User;

  constructor(
    em: ConstructorParameters<typeof Factory<User>>[0],
    private readonly faker: Faker,
  ) {
    super(em);
  }

  /** A valid username: faker's, cut to the limits and stripped of forbidden characters. */
  username(): string {
    for (;;) {
      const candidate = this.faker.internet
        .username()
        .replace(/[@#:`\s]/g, '')
        .slice(0, 32);
      try {
        return validateUsername(candidate);
      } catch {
        // rare: faker produced something reserved or too short; draw again
      }
    }
  }

  protected definition(): EntityData<User> {
    const faker = this.faker;
    return {
      username: this.username(),
      displayName: faker.helpers.maybe(() => faker.person.firstName().slice(0, 32), { probability: 0.7 }) ?? null,
      bio: faker.helpers.maybe(() => faker.lorem.sentence().slice(0, 190), { probability: 0.4 }) ?? null,
      pronouns:
        faker.helpers.maybe(() => faker.helpers.arrayElement(['she/her', 'he/him', 'they/them', 'any']), {
          probability: 0.3,
        }) ?? null,
      premiumType: faker.helpers.weightedArrayElement([
        { weight: 80, value: PremiumType.NONE },
        { weight: 12, value: PremiumType.NITRO },
        { weight: 5, value: PremiumType.NITRO_BASIC },
        { weight: 3, value: PremiumType.NITRO_CLASSIC },
      ]),
    };
  }

  override makeEntity(input: Partial<EntityData<User>> & { discriminator?: string } = {}): User {
    const data = { ...this.definition(), ...input } as EntityData<User> & { discriminator?: string };
    const user = new User({
      username: data.username as string,
      discriminator: data.discriminator ?? '0001',
      displayName: data.displayName ?? null,
      premiumType: data.premiumType as PremiumType,
    });
    user.bio = (data.bio as string | null) ?? null;
    user.pronouns = (data.pronouns as string | null) ?? null;
    const presence = user.presence.getEntity();
    presence.status = this.faker.helpers.weightedArrayElement(
      PRESENCE_SPREAD.map(([value, weight]) => ({ value, weight })),
    );
    presence.lastSeenAt = this.faker.date.recent({ days: 14, refDate: new Date('2026-11-01T00:00:00Z') });
    return user;
  }
}
