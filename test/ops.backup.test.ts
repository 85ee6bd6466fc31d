import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Server } from '../src/entities/server/Server';
import type { ServerRepository } from '../src/entities/server/ServerRepository';
import { backupDatabase, listBackups, restoreBackup } from '../src/ops/backup';
import { findPgTool } from '../src/ops/pg-tools';
import { DatabaseSeeder } from '../src/seeders/DatabaseSeeder';
import { useTestDatabase } from './support/db';
import { UserService } from '../src/identity/user-service';

const db = useTestDatabase();
const ROOT = resolve(__dirname, '..');
const execute = promisify(execFile);
const hasTools = Boolean(findPgTool('pg_dump') && findPgTool('pg_restore'));
const skipped = hasTools ? '' : ' (skipped: pg_dump/pg_restore not found; apt-get install postgresql-client-15)';
const dir = mkdtempSync(join(tmpdir(), 'cryb-backups-'));
const copies: string[] = [];

interface Fingerprint {
  table: string;
  rows: number;
  md5: string | null;
}

/** Every table's row count and a checksum of its whole content, in a stable order. */
async function fingerprint(url: string): Promise<Fingerprint[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const tables = (await client.query<{ name: string }>(`select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by 1`)).rows;
    const result: Fingerprint[] = [];
    for (const { name } of tables) {
      const { rows } = await client.query<{ rows: number; md5: string | null }>(
        `select count(*)::int as rows, md5(string_agg(t::text, E'\\n' order by t::text)) as md5 from "${name}" t`,
      );
      result.push({ table: name, ...rows[0] });
    }
    return result;
  } finally {
    await client.end();
  }
}

const admin = () => inject('adminUrl');
const urlOf = (database: string) => Object.assign(new URL(admin()), { pathname: `/${database}` }).toString();

async function databaseExists(name: string): Promise<boolean> {
  const client = new Client({ connectionString: admin() });
  await client.connect();
  try {
    return ((await client.query('select 1 from pg_database where datname = $1', [name])).rowCount ?? 0) > 0;
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  await db().orm.getSeeder().seed(DatabaseSeeder);
  // And the domain's own paths on top of the seeder's batch inserts.
  const owner = await new UserService(db().fork()).register({ username: 'Archivist' });
  await (db().fork().getRepository(Server) as ServerRepository).createServer(owner, { name: 'Backed Up' });
}, 60_000);

afterAll(async () => {
  const client = new Client({ connectionString: admin() });
  await client.connect();
  for (const name of copies) await client.query(`drop database if exists "${name}" with (force)`);
  await client.end();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!hasTools)(`backup and restore${skipped}`, () => {
  it('round-trips a seeded database: every table has the same row count and content checksum', async () => {
    const before = await fingerprint(db().url);
    expect(before.filter((t) => t.rows > 0).map((t) => t.table)).toEqual(expect.arrayContaining(['User', 'Relationship', 'Server', 'ServerMember', 'Role', 'Channel', 'DomainEvent', 'mikro_orm_migrations']));

    const backup = await backupDatabase({ url: db().url, dir });
    expect(basename(backup.file)).toMatch(new RegExp(`^${db().name}-\\d{8}T\\d{9}Z\\.dump$`));
    expect(backup.bytes).toBeGreaterThan(1000);
    expect(backup.removed).toEqual([]);

    const target = `${db().name}_copy`;
    copies.push(target);
    const restored = await restoreBackup({ from: backup.file, serverUrl: admin(), database: target });
    expect(restored).toMatchObject({ restored: true, database: target, action: 'create', exists: false });
    expect(await fingerprint(urlOf(target))).toEqual(before);
  });

  it('never overwrites an existing database without --replace, and replaces it with it', async () => {
    const [newest] = listBackups(dir, db().name);
    const target = `${db().name}_copy`;
    await expect(restoreBackup({ from: newest.file, serverUrl: admin(), database: target })).rejects.toThrow(`database "${target}" already exists`);
    await expect(restoreBackup({ from: newest.file, serverUrl: admin(), database: db().name })).rejects.toThrow('pass --replace');

    const client = new Client({ connectionString: urlOf(target) });
    await client.connect();
    await client.query('delete from "DomainEvent"');
    await client.end();
    const expected = await fingerprint(db().url);
    expect(await fingerprint(urlOf(target))).not.toEqual(expected);
    const replaced = await restoreBackup({ from: dir, serverUrl: admin(), database: target, replace: true });
    expect(replaced).toMatchObject({ restored: true, action: 'replace', exists: true, file: newest.file });
    expect(await fingerprint(urlOf(target))).toEqual(expected);
  });

  it('a dry run lists the backup and creates nothing; a new database gets a fresh name by default', async () => {
    const plan = await restoreBackup({ from: dir, serverUrl: admin(), dryRun: true });
    expect(plan.restored).toBe(false);
    expect(plan.action).toBe('create');
    expect(plan.contents).toContainEqual(expect.stringMatching(/TABLE public User /));
    expect(plan.database).toMatch(new RegExp(`^${db().name}_restored_\\d{8}t\\d{9}z$`));
    expect(await databaseExists(plan.database)).toBe(false);
  });

  it('keeps the newest N backups', async () => {
    const first = listBackups(dir, db().name);
    const second = await backupDatabase({ url: db().url, dir, keep: 2 });
    const third = await backupDatabase({ url: db().url, dir, keep: 2 });
    expect(third.removed).toEqual([first[first.length - 1].file]);
    expect(listBackups(dir, db().name).map((b) => b.file)).toEqual([third.file, second.file]);
    expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('says which package to install when pg_dump is missing, and bad input is refused before any work', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'cryb-no-tools-'));
    try {
      await expect(backupDatabase({ url: db().url, dir, toolDirs: [empty] })).rejects.toThrow(/pg_dump was not found .*apt-get install postgresql-client-15` \(or `postgresql-client`\)/);
    } finally {
      rmSync(empty, { recursive: true });
    }
    await expect(backupDatabase({ url: db().url, dir, keep: -1 })).rejects.toThrow('keep must be a whole number');
    await expect(restoreBackup({ from: join(dir, 'nope.dump'), serverUrl: admin() })).rejects.toThrow('no backup at');
    await expect(restoreBackup({ from: dir, serverUrl: admin(), database: 'x"; drop' })).rejects.toThrow('must be 1-63 letters');
  });

  it('npm run db:backup and db:restore --dry-run work from the command line', async () => {
    const env = { ...process.env, DATABASE_URL: db().url, CRYB_BACKUP_DIR: dir };
    const tsx = [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'scripts/ops.ts')];
    const backup = await execute(process.execPath, [...tsx, 'backup', '--keep=0'], { cwd: ROOT, env });
    expect(backup.stdout).toMatch(new RegExp(`^backed up ${db().name} to .*\\.dump \\(`));
    const dry = await execute(process.execPath, [...tsx, 'restore', '--dry-run', `--database=${db().name}`], { cwd: ROOT, env });
    expect(dry.stdout).toMatch(new RegExp(`^dry run: database ${db().name} exists, so the restore would refuse; --replace drops it and restores `));
    expect(dry.stdout).toMatch(/TABLE public User /);
    const dryReplace = await execute(process.execPath, [...tsx, 'restore', '--dry-run', '--replace', `--database=${db().name}`], { cwd: ROOT, env });
    expect(dryReplace.stdout).toMatch(new RegExp(`^dry run: would DROP and replace database ${db().name} from `));
    expect(await databaseExists(db().name)).toBe(true);
    const refused = await execute(process.execPath, [...tsx, 'restore', `--database=${db().name}`], { cwd: ROOT, env }).catch((e: { code: number; stderr: string }) => e);
    expect(refused).toMatchObject({ code: 1, stderr: expect.stringContaining('already exists') });
  });
});
