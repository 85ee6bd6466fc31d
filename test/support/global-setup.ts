import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import type { TestProject } from 'vitest/node';
import { EmbeddedServer, freePort } from '../../src/db/embedded-server';
import { createOrm, migrate } from '../../src/db/orm';

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
    templateDatabase: string;
  }
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/**
 * One PostgreSQL for the run: DATABASE_URL's server when set, else a throwaway embedded cluster.
 * The real migrations build a template database once; every test file clones it.
 */
export default async function setup(project: TestProject) {
  let server: EmbeddedServer | undefined;
  let adminUrl: string;
  if (process.env.DATABASE_URL) {
    adminUrl = withDatabase(process.env.DATABASE_URL, 'postgres');
    console.log(`[tests] using DATABASE_URL's server (${new URL(adminUrl).host})`);
  } else {
    const port = await freePort();
    server = new EmbeddedServer({
      baseDir: mkdtempSync(join(tmpdir(), 'cryb-test-pg-')),
      port,
      // Durability is not under test; speed is welcome. Race tests need many connections.
      settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '300' },
      log: () => undefined,
    });
    await server.start();
    adminUrl = server.url;
    console.log(`[tests] started a throwaway embedded PostgreSQL on port ${port}`);
  }

  const templateDatabase = `cryb_template_${process.pid}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`drop database if exists "${templateDatabase}"`);
  await admin.query(`create database "${templateDatabase}"`);
  const orm = await createOrm({
    clientUrl: withDatabase(adminUrl, templateDatabase),
    poolSize: 2,
    migrations: 'ignore',
  });
  try {
    await migrate(orm);
  } finally {
    await orm.close(true);
  }
  // TimescaleDB's scheduler stays connected to databases that have the extension, and a template
  // somebody is connected to cannot be cloned: close the template to connections, as template0 is.
  await admin.query(`alter database "${templateDatabase}" allow_connections false`);
  await admin.query(
    `select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`,
    [templateDatabase],
  );
  project.provide('adminUrl', adminUrl);
  project.provide('templateDatabase', templateDatabase);

  return async () => {
    // cryb_t_: databases test files create by hand; cryb_test_: the testing kit's clones of this run's template.
    const leftovers = await admin.query<{ datname: string }>(
      `select datname from pg_database where datname like $1 or datname like $2`,
      [`cryb\\_t\\_${process.pid}\\_%`, `cryb\\_test\\_${process.pid}\\_%`],
    );
    for (const { datname } of leftovers.rows) await admin.query(`drop database if exists "${datname}" with (force)`);
    await admin.query(`drop database if exists "${templateDatabase}" with (force)`);
    await admin.end();
    await server?.destroy();
  };
}
