import { createServer, type Server, type Socket } from 'node:net';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createOrm } from '../src/db/orm';
import { crybConfig } from '../src/db/config';
import { describeConnectFailure } from '../src/db/connection-check';
import * as errors from '../src/domain/errors';
import {
  DatabaseNotConfigured,
  DatabaseUnavailable,
  DOMAIN_ERROR_CODES,
  DomainError,
  MigrationsPending,
  type DomainErrorCode,
} from '../src/domain/errors';

/**
 * createOrm as a service meets it: it starts and creates nothing, and every way of not reaching the
 * database ends in one typed error with one line, the password never shown.
 */

const adminUrl = inject('adminUrl');
const tag = `${inject('templateDatabase').split('_').pop()}_${Math.random().toString(36).slice(2, 8)}`;
const withDatabase = (database: string, url = adminUrl) =>
  Object.assign(new URL(url), { pathname: `/${database}` }).toString();
const created: string[] = [];
let silent: Server;
let silentPort: number;
const sockets: Socket[] = [];

async function admin<T>(sql: string, params: unknown[] = [], url = adminUrl): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

const databaseExists = async (name: string) =>
  (await admin(`select 1 from pg_database where datname = $1`, [name])).length > 0;

async function failure(options: Parameters<typeof createOrm>[0]): Promise<Error> {
  return createOrm({ logger: () => undefined, ...options }).then(
    async (orm) => {
      await orm.close(true);
      throw new Error('createOrm opened');
    },
    (error: Error) => error,
  );
}

function oneLineWithout(error: Error, secret?: string) {
  expect(error.message).not.toMatch(/\n/);
  if (secret) expect(error.message).not.toContain(secret);
}

beforeAll(async () => {
  // A program that accepts connections and never answers: what a wrong CRYB_DB_PORT may point at.
  silent = createServer((socket) => sockets.push(socket));
  await new Promise<void>((done) => silent.listen(0, '127.0.0.1', () => done()));
  silentPort = (silent.address() as { port: number }).port;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((done) => silent.close(done));
  for (const name of created) await admin(`drop database if exists "${name}" with (force)`);
});

describe('createOrm without a database', () => {
  it('without DATABASE_URL and without the opt-in: DatabaseNotConfigured saying what to set; nothing is started', async () => {
    const saved = {
      url: process.env.DATABASE_URL,
      embedded: process.env.CRYB_EMBEDDED,
      pgdata: process.env.CRYB_PGDATA,
    };
    delete process.env.DATABASE_URL;
    delete process.env.CRYB_EMBEDDED;
    process.env.CRYB_PGDATA = `/nonexistent/cryb-${tag}`;
    try {
      const error = await failure({});
      expect(error).toBeInstanceOf(DatabaseNotConfigured);
      expect((error as DatabaseNotConfigured).code).toBe('DATABASE_NOT_CONFIGURED');
      expect(error.message).toMatch(
        /^DATABASE_URL is not set: set it to postgresql:\/\/user:password@host:5432\/database/,
      );
      expect(error.message).toContain('createOrm({ embedded: true }) or CRYB_EMBEDDED=1');
      oneLineWithout(error);
      expect(await failure({ embedded: false })).toBeInstanceOf(DatabaseNotConfigured);
    } finally {
      if (saved.url !== undefined) process.env.DATABASE_URL = saved.url;
      if (saved.embedded !== undefined) process.env.CRYB_EMBEDDED = saved.embedded;
      if (saved.pgdata !== undefined) process.env.CRYB_PGDATA = saved.pgdata;
      else delete process.env.CRYB_PGDATA;
    }
  });

  it('a closed port, an unknown role, an unknown database: DatabaseUnavailable in one line; the database is never created', async () => {
    const closed = await failure({ clientUrl: 'postgresql://app:s3cret@127.0.0.1:1/cryb' });
    expect(closed).toBeInstanceOf(DatabaseUnavailable);
    expect(closed.message).toBe(
      'the database is unavailable: nothing accepts connections at 127.0.0.1:1 (connection refused): is PostgreSQL ' +
        'running there, and is the port right? [postgresql://app:***@127.0.0.1:1/cryb]',
    );
    oneLineWithout(closed, 's3cret');

    const role = await failure({
      clientUrl: withDatabase('postgres', adminUrl).replace('//postgres@', `//nobody_${tag}:s3cret@`),
    });
    expect(role).toBeInstanceOf(DatabaseUnavailable);
    expect(role.message).toContain(`role "nobody_${tag}" does not exist`);
    expect(role.message).toContain('check the user name in the URL');
    oneLineWithout(role, 's3cret');

    const typo = `cryb_t_${tag}_typo`;
    const missing = await failure({ clientUrl: withDatabase(typo) });
    expect(missing).toBeInstanceOf(DatabaseUnavailable);
    expect(missing.message).toContain(`database "${typo}" does not exist`);
    expect(missing.message).toContain('`npx cryb-db migrate`');
    oneLineWithout(missing);
    expect(await databaseExists(typo)).toBe(false);
  });

  it('a wrong password: the one line says to check it and to percent-encode', () => {
    // The test server trusts every local connection, so no real server here answers 28P01.
    const line = describeConnectFailure(
      Object.assign(new Error('password authentication failed for user "app"'), { code: '28P01' }),
      'postgresql://app:hunter2@db:5432/cryb',
    );
    expect(line).toBe(
      'password authentication failed for user "app" (at db:5432): check the password; special characters in it must ' +
        'be percent-encoded (# as %23, @ as %40, / as %2F, : as %3A, % as %25) [postgresql://app:***@db:5432/cryb]',
    );
  });

  it('an unparsable URL and a # in a password: DatabaseUnavailable with the percent-encoding hint, before any connection', async () => {
    const hash = await failure({ clientUrl: 'postgresql://app:12#3@127.0.0.1:5432/cryb' });
    expect(hash).toBeInstanceOf(DatabaseUnavailable);
    expect(hash.message).toContain("has a '#'");
    expect(hash.message).toContain('# as %23, @ as %40');
    const garbled = await failure({ clientUrl: 'postgresql://app:p@ss@db:port/cryb' });
    expect(garbled).toBeInstanceOf(DatabaseUnavailable);
    expect(garbled.message).toContain('is not a URL');
    expect(garbled.message).toContain('percent-encode special characters');
    oneLineWithout(garbled, 'p@ss');
  });

  it('a port where something accepts but never answers: DatabaseUnavailable after the connect timeout, not a hang', async () => {
    const started = Date.now();
    const error = await failure({
      clientUrl: `postgresql://postgres@127.0.0.1:${silentPort}/cryb`,
      connectTimeoutMs: 700,
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(error).toBeInstanceOf(DatabaseUnavailable);
    expect(error.message).toContain(
      `no answer from 127.0.0.1:${silentPort} within 700 ms (connect timeout, CRYB_DB_CONNECT_TIMEOUT_MS)`,
    );
    oneLineWithout(error);
  });

  it('every pooled connection, replicas included, carries the connect timeout', async () => {
    const config = crybConfig({
      clientUrl: 'postgresql://db/cryb',
      connectTimeoutMs: 1234,
      replicaUrls: ['postgresql://r1/cryb'],
    });
    expect(config.driverOptions).toEqual({ connection: { connectionTimeoutMillis: 1234 } });
    expect(config.ensureDatabase).toBe(false);
    const name = `cryb_t_${tag}_pool`;
    await admin(`create database "${name}" template "${inject('templateDatabase')}"`);
    created.push(name);
    const orm = await createOrm({ clientUrl: withDatabase(name), connectTimeoutMs: 4321, logger: () => undefined });
    try {
      const knex = orm.em.getConnection().getKnex() as unknown as {
        client: { config: { connection: { connectionTimeoutMillis?: number } } };
      };
      expect(knex.client.config.connection.connectionTimeoutMillis).toBe(4321);
    } finally {
      await orm.close(true);
    }
  });
});

describe('createOrm on a database behind the package', () => {
  it('an empty database: MigrationsPending naming cryb-db migrate, and nothing written; migrations: apply migrates it', async () => {
    const name = `cryb_t_${tag}_behind`;
    await admin(`create database "${name}"`);
    created.push(name);
    const error = await failure({ clientUrl: withDatabase(name) });
    expect(error).toBeInstanceOf(MigrationsPending);
    expect((error as MigrationsPending).code).toBe('MIGRATIONS_PENDING');
    expect(error.message).toMatch(
      new RegExp(
        `^database "${name}" is missing \\d+ migration\\(s\\) of this package .*: run \`npx cryb-db migrate\``,
      ),
    );
    expect((error as MigrationsPending).pending.length).toBeGreaterThan(0);
    expect(
      await admin(
        `select table_name from information_schema.tables where table_schema = 'public'`,
        [],
        withDatabase(name),
      ),
    ).toEqual([]);

    const orm = await createOrm({ clientUrl: withDatabase(name), migrations: 'apply', logger: () => undefined });
    await orm.close(true);
    const reopened = await createOrm({ clientUrl: withDatabase(name), logger: () => undefined });
    await reopened.close(true);
  });

  it('one migration missing: MigrationsPending names it', async () => {
    const name = `cryb_t_${tag}_onebehind`;
    await admin(`create database "${name}" template "${inject('templateDatabase')}"`);
    created.push(name);
    const [last] = await admin<{ name: string }>(
      `delete from mikro_orm_migrations where id = (select max(id) from mikro_orm_migrations) returning name`,
      [],
      withDatabase(name),
    );
    const error = await failure({ clientUrl: withDatabase(name) });
    expect(error).toBeInstanceOf(MigrationsPending);
    expect((error as MigrationsPending).pending).toEqual([last.name]);
  });
});

describe('DomainErrorCode', () => {
  it('lists the code of every DomainError the package exports, so error.code is typed', () => {
    const codes = (Object.values(errors) as unknown[])
      .filter(
        (value): value is new (...args: never[]) => DomainError =>
          typeof value === 'function' && (value as { prototype: unknown }).prototype instanceof DomainError,
      )
      .map(codeOf);
    expect(codes.length).toBeGreaterThan(30);
    for (const code of codes) expect(DOMAIN_ERROR_CODES).toContain(code);
    const typed: DomainErrorCode = new DatabaseUnavailable('x').code;
    expect(typed).toBe('DATABASE_UNAVAILABLE');
  });
});

/** The code a class assigns (its constructor sets it), from an instance built with placeholder arguments. */
function codeOf(Type: new (...args: never[]) => DomainError): string {
  const instance = Reflect.construct(Type, ['a', ['b'], 3]) as DomainError;
  return instance.code;
}
