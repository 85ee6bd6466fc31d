import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createOrm, migrate, MIGRATION_LOCK_KEY, type CrybOrm } from '../src/db/orm';

/** Service instances that start together each call migrate(); the advisory lock lets one apply. */

const adminUrl = inject('adminUrl');
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function freshDatabase(settings: string[] = []): Promise<string> {
  const name = `cryb_t_${inject('templateDatabase').split('_').pop()}_mig_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  for (const setting of settings) await admin.query(`alter database "${name}" set ${setting}`);
  await admin.end();
  cleanups.push(async () => {
    const drop = new Client({ connectionString: adminUrl });
    await drop.connect();
    await drop.query(`drop database if exists "${name}" with (force)`);
    await drop.end();
  });
  return Object.assign(new URL(adminUrl), { pathname: `/${name}` }).toString();
}

async function instances(url: string, n: number): Promise<CrybOrm[]> {
  const orms = await Promise.all(
    Array.from({ length: n }, () =>
      createOrm({ clientUrl: url, poolSize: 2, migrations: 'ignore', logger: () => undefined }),
    ),
  );
  cleanups.unshift(async () => void (await Promise.all(orms.map((orm) => orm.close(true)))));
  return orms;
}

describe('migrate under the advisory lock', () => {
  it('three instances migrating one fresh database at once apply each migration exactly once', async () => {
    const orms = await instances(await freshDatabase(), 3);
    const applied = await Promise.all(orms.map((orm) => migrate(orm)));
    const shipped = (await orms[0].getMigrator().getExecutedMigrations()).map((m) => m.name).sort();
    expect(shipped.length).toBeGreaterThan(0);
    expect(applied.flat().sort()).toEqual(shipped);
    expect(applied.filter((names) => names.length > 0)).toHaveLength(1);
    const rows = await orms[0].em
      .getConnection()
      .execute<{ name: string }[]>('select name from mikro_orm_migrations order by id');
    expect(rows.map((r) => r.name).sort()).toEqual(shipped);
    // A later start finds nothing to do.
    expect(await migrate(orms[1])).toEqual([]);
  });

  it('waits for another instance holding the lock however long it takes, even where the server sets a short lock_timeout', async () => {
    const url = await freshDatabase([`lock_timeout = '200ms'`]);
    const [orm] = await instances(url, 1);
    const other = new Client({ connectionString: url });
    await other.connect();
    cleanups.unshift(() => other.end());
    await other.query('begin');
    await other.query('select pg_advisory_xact_lock(hashtextextended($1, 0))', [MIGRATION_LOCK_KEY]);
    const started = Date.now();
    const migrating = migrate(orm);
    await new Promise((r) => setTimeout(r, 1000));
    await other.query('commit');
    const applied = await migrating;
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(applied.length).toBeGreaterThan(0);
  });
});
