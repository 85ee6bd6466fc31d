import { describe, expect, it } from 'vitest';
import { DiscriminatorsExhausted, ValidationFailed } from '../src/domain/errors';
import { fulfilled, race, rejected, useTestDatabase } from './support/db';
import { UserService } from '../src/identity/user-service';

const db = useTestDatabase({ poolSize: 30 });

describe('registration', () => {
  it('gives two registrations of one username distinct discriminators', async () => {
    const a = await new UserService(db().fork()).register({ username: 'Nova' });
    const b = await new UserService(db().fork()).register({ username: 'nova' });
    expect(a.discriminator).not.toBe(b.discriminator);
    expect(a.discriminator).toMatch(/^[0-9]{4}$/);
    const rows = await db().sql<{ n: string }>(`select count(*) as n from "User" where lower(username) = 'nova'`);
    expect(Number(rows[0].n)).toBe(2);
  });

  it('200 concurrent registrations of one username end in 200 distinct discriminators, none lost', async () => {
    const results = await race(db(), 200, (em) => new UserService(em).register({ username: 'crowded' }));
    expect(rejected(results)).toEqual([]);
    const users = fulfilled(results);
    expect(new Set(users.map((u) => u.discriminator)).size).toBe(200);
    const rows = await db().sql<{ n: string; d: string }>(
      `select count(*) as n, count(distinct discriminator) as d from "User" where lower(username) = 'crowded'`,
    );
    expect(rows[0]).toEqual({ n: '200', d: '200' });
  });

  it('throws DiscriminatorsExhausted when all 9999 are taken, and writes nothing', async () => {
    await db().sql(
      `insert into "User" (id, username, discriminator) select 900000000000 + n, 'Full', lpad(n::text, 4, '0') from generate_series(1, 9999) n`,
    );
    await db().sql(`insert into "UserPresence" ("userId") select id from "User" where username = 'Full'`);
    await expect(new UserService(db().fork()).register({ username: 'full' })).rejects.toBeInstanceOf(DiscriminatorsExhausted);
    const rows = await db().sql<{ n: string }>(`select count(*) as n from "User" where lower(username) = 'full'`);
    expect(rows[0].n).toBe('9999');
  });

  it('rejects bad usernames with ValidationFailed', async () => {
    for (const username of ['', 'a', 'x'.repeat(33), 'everyone', 'HERE', 'a@b', 'a#b', 'a:b', 'a```b', 'tab\tname']) {
      await expect(new UserService(db().fork()).register({ username }), username).rejects.toBeInstanceOf(ValidationFailed);
    }
  });
});
