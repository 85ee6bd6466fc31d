import { describe, expect, it } from 'vitest';
import { crybConfig } from '../src/db/config';
import { directDatabaseUrl, parseDatabaseUrl, redactUrl, replicaUrlsFromEnv } from '../src/db/connection-options';

describe('database URLs and replica configuration', () => {
  it('maps the Prisma-style options to the pool and strips them from the URL pg receives', () => {
    expect(
      parseDatabaseUrl('postgresql://app:secret@db:6432/cryb?pgbouncer=true&connection_limit=20&sslmode=require'),
    ).toEqual({
      url: 'postgresql://app:secret@db:6432/cryb?sslmode=require',
      poolMax: 20,
      pgbouncer: true,
    });
    expect(parseDatabaseUrl('postgres://db/cryb')).toEqual({
      url: 'postgres://db/cryb',
      poolMax: undefined,
      pgbouncer: false,
    });
  });

  it('refuses bad URLs and options with errors that say what is wrong', () => {
    expect(() => parseDatabaseUrl('db:5432/cryb')).toThrow(
      'DATABASE_URL must start with postgresql:// or postgres:// (got "db:")',
    );
    expect(() => parseDatabaseUrl('not a url')).toThrow('DATABASE_URL is not a URL');
    expect(() => parseDatabaseUrl('postgresql://db/cryb?connection_limit=0')).toThrow(
      'connection_limit must be an integer from 1 to 10000 (got "0")',
    );
    expect(() => parseDatabaseUrl('postgresql://db/cryb?connection_limit=many')).toThrow('(got "many")');
    expect(() => parseDatabaseUrl('postgresql://db/cryb?pgbouncer=yes')).toThrow(
      'pgbouncer must be true or false (got "yes")',
    );
    expect(() => replicaUrlsFromEnv({ DATABASE_REPLICA_URLS: 'postgresql://r1/cryb, mysql://r2/cryb' })).toThrow(
      'DATABASE_REPLICA_URLS[1] must start with postgresql://',
    );
  });

  it('reads DATABASE_REPLICA_URLS into MikroORM replicas, each with the pool size unless its URL says otherwise; reads prefer the primary', () => {
    expect(replicaUrlsFromEnv({})).toEqual([]);
    expect(replicaUrlsFromEnv({ DATABASE_REPLICA_URLS: ' , ' })).toEqual([]);
    const urls = replicaUrlsFromEnv({
      DATABASE_REPLICA_URLS: ' postgresql://r1/cryb ,postgresql://r2/cryb?connection_limit=3,',
    });
    expect(urls).toEqual(['postgresql://r1/cryb', 'postgresql://r2/cryb?connection_limit=3']);
    const config = crybConfig({ clientUrl: 'postgresql://primary/cryb?connection_limit=7', replicaUrls: urls });
    expect(config.pool).toMatchObject({ max: 7 });
    expect(config.preferReadReplicas).toBe(false);
    expect(config.replicas).toEqual([
      { name: 'replica-1', clientUrl: 'postgresql://r1/cryb', pool: { min: 0, max: 7 } },
      { name: 'replica-2', clientUrl: 'postgresql://r2/cryb', pool: { min: 0, max: 3 } },
    ]);
  });

  it('gives LISTEN a direct URL, never a pgbouncer one, and masks passwords in messages', () => {
    expect(directDatabaseUrl({ DATABASE_URL: 'postgresql://db/cryb' })).toBe('postgresql://db/cryb');
    expect(
      directDatabaseUrl({
        DATABASE_URL: 'postgresql://bouncer/cryb?pgbouncer=true',
        DATABASE_DIRECT_URL: 'postgresql://db/cryb',
      }),
    ).toBe('postgresql://db/cryb');
    expect(() => directDatabaseUrl({ DATABASE_URL: 'postgresql://bouncer/cryb?pgbouncer=true' })).toThrow(
      'set DATABASE_DIRECT_URL',
    );
    expect(redactUrl('postgresql://app:secret@db/cryb')).toBe('postgresql://app:***@db/cryb');
  });
});
