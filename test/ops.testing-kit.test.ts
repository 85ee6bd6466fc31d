import { UserService } from '../src/identity/user-service';
import { Client } from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import * as vitest from 'vitest';
import { DomainError } from '../src/domain/errors';
import {
  createTestDatabase,
  migratedTemplate,
  race,
  rejected,
  seedScenario,
  useTestDatabase,
  type TestDatabase,
} from '../src/testing';

/**
 * @cryb/database/testing as a service uses it: on a server URL alone, it builds the migrated
 * template once and clones a database per file (or per test), seeds scenarios with handles, races.
 */

const serverUrl = inject('adminUrl');
const opened: TestDatabase[] = [];
let template: string | undefined;

async function admin<T>(sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

afterAll(async () => {
  for (const db of opened) await db.close().catch(() => undefined);
  if (template) await admin(`drop database if exists "${template}" with (force)`);
});

describe('the testing kit on a server URL', () => {
  it('two test processes starting at once build one migrated template, closed to connections, and each gets a clone', async () => {
    const names = await Promise.all([migratedTemplate(serverUrl), migratedTemplate(serverUrl)]);
    template = names[0];
    expect(names[1]).toBe(template);
    expect(template).toMatch(/^cryb_template_[0-9a-f]{12}$/);
    expect(await admin(`select datallowconn from pg_database where datname = $1`, [template])).toEqual([
      { datallowconn: false },
    ]);

    const [a, b] = await Promise.all([createTestDatabase({ serverUrl }), createTestDatabase({ serverUrl })]);
    opened.push(a, b);
    expect(a.name).not.toBe(b.name);
    // Migrated (createOrm checks it), and independent.
    await new UserService(a.fork()).register({ username: 'OnlyInA' });
    expect(await a.sql(`select username from "User"`)).toEqual([{ username: 'OnlyInA' }]);
    expect(await b.sql(`select username from "User"`)).toEqual([]);

    const name = a.name;
    await a.close();
    opened.splice(opened.indexOf(a), 1);
    expect(await admin(`select 1 from pg_database where datname = $1`, [name])).toEqual([]);
  });

  it('the small scenario with handles, and race(n, op) on forked EntityManagers', async () => {
    const db = await createTestDatabase({ serverUrl, poolSize: 12 });
    opened.push(db);
    const world = await seedScenario(db, 'small');
    expect(world.server.memberIds).toContain(world.member);
    expect(world.server.memberIds).not.toContain(world.outsider);

    const results = await race(db, 10, (em) => new UserService(em).register({ username: 'Same' }));
    expect(results).toHaveLength(10);
    for (const error of rejected(results)) {
      expect(error).toBeInstanceOf(DomainError);
    }
    const made = await db.sql<{ discriminator: string }>(`select discriminator from "User" where username = 'Same'`);
    expect(made.length).toBe(results.filter((r) => r.status === 'fulfilled').length);
    expect(new Set(made.map((u) => u.discriminator)).size).toBe(made.length);
  });
});

describe('useTestDatabase with the runner hooks, per test', () => {
  const seen: string[] = [];
  const db = useTestDatabase(vitest, { serverUrl, perTest: true });

  it('the first test writes into a fresh database', async () => {
    seen.push(db().name);
    await new UserService(db().fork()).register({ username: 'PerTest' });
    expect(await db().sql(`select count(*)::int as n from "User"`)).toEqual([{ n: 1 }]);
  });

  it('the second test gets another fresh database', async () => {
    seen.push(db().name);
    expect(seen[0]).not.toBe(seen[1]);
    expect(await db().sql(`select count(*)::int as n from "User"`)).toEqual([{ n: 0 }]);
    expect(await admin(`select 1 from pg_database where datname = $1`, [seen[0]])).toEqual([]);
  });
});
