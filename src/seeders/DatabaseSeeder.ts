import type { EntityManager } from '@mikro-orm/postgresql';
import { Seeder } from '@mikro-orm/seeder';
import { pickFreeDiscriminator, usernameKey } from '../domain/identity/username';
import { Relationship } from '../entities/user/Relationship';
import type { User } from '../entities/user/User';
import { makeServer } from './factories/ServerFactory';
import { seededFaker, seedFromEnvironment, UserFactory } from './factories/UserFactory';

export interface SeedOptions {
  users?: number;
  servers?: number;
  seed?: number;
}

/**
 * The default world: users with spread presence, a few sharing one username (so discriminators
 * show), friendships, pending requests and a block, and servers with role hierarchies, members,
 * channels and overwrites (one per ten users, or SEED_SERVERS). Deterministic for a given SEED (or --seed=N).
 * Seeding is a batch job, not a concurrent one: it allocates discriminators against one read of the
 * database and writes everything in one flush.
 */
export class DatabaseSeeder extends Seeder {
  constructor(private readonly options: SeedOptions = {}) {
    super();
  }

  async run(em: EntityManager): Promise<void> {
    const seed = this.options.seed ?? seedFromEnvironment();
    const count = this.options.users ?? Number(process.env.SEED_USERS ?? 20);
    const faker = seededFaker(seed);
    const factory = new UserFactory(em, faker);
    if (count <= 0) return;

    const names = Array.from({ length: count }, (_, i) => (i % 7 === 3 ? 'Echo' : factory.username()));
    const taken = await takenDiscriminators(em, names);
    const users: User[] = names.map((username) => {
      const used = taken.get(usernameKey(username)) ?? new Set<string>();
      taken.set(usernameKey(username), used);
      const discriminator = pickFreeDiscriminator(used, undefined, () => faker.number.float({ min: 0, max: 0.9999 }));
      if (!discriminator) throw new Error(`no discriminator left for ${username}`);
      used.add(discriminator);
      return factory.makeEntity({ username, discriminator });
    });
    em.persist(users);

    // A social graph with a few busy people: friendships along a ring plus shortcuts to hubs.
    const pairs = new Map<string, Relationship>();
    const relate = (x: User, y: User) => {
      const [a, b] = BigInt(x.id) < BigInt(y.id) ? [x, y] : [y, x];
      const key = `${a.id}:${b.id}`;
      let rel = pairs.get(key);
      if (!rel) {
        rel = new Relationship(a, b);
        pairs.set(key, rel);
      }
      return rel;
    };
    const hubs = users.slice(0, Math.max(1, Math.floor(users.length / 10)));
    users.forEach((user, i) => {
      const next = users[(i + 1) % users.length];
      if (next !== user && i % 3 !== 2) befriend(relate(user, next), user, next);
      const hub = faker.helpers.arrayElement(hubs);
      if (hub !== user && relate(user, hub).isVacant) befriend(relate(user, hub), user, hub);
    });
    if (users.length >= 4) {
      const [x, y] = [users[users.length - 1], users[users.length - 2]];
      relate(x, y).blockBy(x.id);
      // A pending request between two people who have nothing between them yet.
      const sender = users[users.length - 3];
      const receiver = users.slice(0, -3).reverse().find((candidate) => relate(sender, candidate).isVacant);
      if (receiver) {
        const pending = relate(sender, receiver);
        pending.requestFrom(pending.userA.id === sender.id ? pending.userA : pending.userB, {});
      }
    }
    em.persist([...pairs.values()].filter((r) => !r.isVacant));

    // Servers with real role hierarchies: each owned by a hub, joined by a random half of the people.
    const serverCount = this.options.servers ?? Number(process.env.SEED_SERVERS ?? Math.max(1, Math.round(count / 10)));
    for (let s = 0; s < serverCount && users.length >= 2; s++) {
      const owner = users[s % users.length];
      const members = faker.helpers.arrayElements(users, { min: 1, max: Math.max(1, Math.floor(users.length / 2)) });
      em.persist(makeServer(faker, owner, members).entities);
    }
    await em.flush();
  }
}

function befriend(rel: Relationship, from: User, to: User): void {
  if (!rel.isVacant) return;
  rel.requestFrom(rel.userA.id === from.id ? rel.userA : rel.userB, {});
  rel.acceptBy(to.id, {});
}

async function takenDiscriminators(em: EntityManager, names: string[]): Promise<Map<string, Set<string>>> {
  const keys = [...new Set(names.map(usernameKey))];
  const rows: { key: string; discriminator: string }[] = await em.execute(
    'select lower("username") as key, "discriminator" from "User" where lower("username") = any(array[?]::text[])',
    [keys],
  );
  const taken = new Map<string, Set<string>>();
  for (const row of rows) {
    if (!taken.has(row.key)) taken.set(row.key, new Set());
    taken.get(row.key)!.add(row.discriminator);
  }
  return taken;
}
