import type { Faker } from '@faker-js/faker';
import { validateUsername } from '../../domain/identity/username';
import { seededFaker } from '../factories/UserFactory';

/**
 * Pools of faker text drawn once per run from a seeded faker; bulk rows combine them with the
 * cheap seeded Rng. Faker per row would cost more than the database does per row.
 */
export interface Vocabulary {
  usernames: string[];
  firstNames: string[];
  words: string[];
  sentences: string[];
  bios: string[];
  serverNames: string[];
  channelNames: string[];
  filenames: { filename: string; contentType: string }[];
  urls: string[];
  titles: string[];
}

function username(faker: Faker): string {
  for (;;) {
    const candidate = faker.internet
      .username()
      .replace(/[@#:`\s]/g, '')
      .slice(0, 32);
    try {
      return validateUsername(candidate);
    } catch {
      // rare: reserved or too short; draw again
    }
  }
}

const times = <T>(n: number, make: () => T) => Array.from({ length: n }, make);

export function vocabulary(seed: number, users: number): Vocabulary {
  const faker = seededFaker(seed);
  const channelNames = [
    ...new Set(
      times(200, () =>
        faker.word
          .noun()
          .toLowerCase()
          .replace(/[^a-z0-9-]/g, ''),
      ).filter((n) => n.length >= 2),
    ),
  ];
  return {
    // Fewer distinct names than users, so discriminators matter (as on the real platform).
    usernames: times(Math.max(8, Math.ceil(users * 0.7)), () => username(faker)),
    firstNames: times(300, () => faker.person.firstName().slice(0, 32)),
    words: times(600, () => faker.word.sample().toLowerCase()),
    sentences: times(800, () => faker.lorem.sentence({ min: 3, max: 14 })),
    bios: times(200, () => `${faker.person.jobTitle()}. ${faker.lorem.sentence()}`.slice(0, 190)),
    serverNames: times(300, () => `${faker.word.adjective()} ${faker.word.noun()}`.slice(0, 100)),
    channelNames: ['general', 'random', 'memes', 'help', 'off-topic', 'dev', 'music', 'gaming', ...channelNames],
    filenames: times(100, () => {
      const ext = faker.helpers.arrayElement(['png', 'jpg', 'gif', 'pdf', 'txt', 'mp4']);
      const types: Record<string, string> = {
        png: 'image/png',
        jpg: 'image/jpeg',
        gif: 'image/gif',
        pdf: 'application/pdf',
        txt: 'text/plain',
        mp4: 'video/mp4',
      };
      return {
        filename: `${faker.system.fileName({ extensionCount: 0 })}.${ext}`.slice(0, 255),
        contentType: types[ext],
      };
    }),
    urls: times(100, () => faker.internet.url()),
    titles: times(100, () => faker.lorem.sentence({ min: 2, max: 6 }).slice(0, 256)),
  };
}
