import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { backupDatabase, backupFileName, backupPath, listBackups, restoreBackup } from '../src/ops/backup';
import { findPgTool, passfileLine, redactSecrets, toolConnection } from '../src/ops/pg-tools';
import { DatabaseSeeder } from '../src/seeders/DatabaseSeeder';
import { useTestDatabase } from './support/db';
import { ServerService } from '../src/servers/server-service';
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
    const tables = (
      await client.query<{ name: string }>(
        `select table_name as name from information_schema.tables where table_schema = 'public'
          and table_type = 'BASE TABLE' order by 1`,
      )
    ).rows;
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
  await new ServerService(db().fork()).createServer(owner, { name: 'Backed Up' });
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
    expect(before.filter((t) => t.rows > 0).map((t) => t.table)).toEqual(
      expect.arrayContaining([
        'User',
        'Relationship',
        'Server',
        'ServerMember',
        'Role',
        'Channel',
        'DomainEvent',
        'mikro_orm_migrations',
      ]),
    );

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
    await expect(restoreBackup({ from: newest.file, serverUrl: admin(), database: target })).rejects.toThrow(
      `database "${target}" already exists`,
    );
    await expect(restoreBackup({ from: newest.file, serverUrl: admin(), database: db().name })).rejects.toThrow(
      'pass --replace',
    );

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
      await expect(backupDatabase({ url: db().url, dir, toolDirs: [empty] })).rejects.toThrow(
        /pg_dump was not found .*apt-get install postgresql-client-15` \(or `postgresql-client`\)/,
      );
    } finally {
      rmSync(empty, { recursive: true });
    }
    await expect(backupDatabase({ url: db().url, dir, keep: -1 })).rejects.toThrow('keep must be a whole number');
    await expect(restoreBackup({ from: join(dir, 'nope.dump'), serverUrl: admin() })).rejects.toThrow('no backup at');
    await expect(restoreBackup({ from: dir, serverUrl: admin(), database: 'x"; drop' })).rejects.toThrow(
      'must be 1-63 letters',
    );
  });

  it('npm run db:backup and db:restore --dry-run work from the command line', async () => {
    const env = { ...process.env, DATABASE_URL: db().url, CRYB_BACKUP_DIR: dir };
    const tsx = [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'scripts/ops.ts')];
    const backup = await execute(process.execPath, [...tsx, 'backup', '--keep=0'], { cwd: ROOT, env });
    expect(backup.stdout).toMatch(new RegExp(`^backed up ${db().name} to .*\\.dump \\(`));
    const dry = await execute(process.execPath, [...tsx, 'restore', '--dry-run', `--database=${db().name}`], {
      cwd: ROOT,
      env,
    });
    expect(dry.stdout).toMatch(
      new RegExp(
        `^dry run: database ${db().name} exists, so the restore would refuse; --replace drops it and restores `,
      ),
    );
    expect(dry.stdout).toMatch(/TABLE public User /);
    const dryReplace = await execute(
      process.execPath,
      [...tsx, 'restore', '--dry-run', '--replace', `--database=${db().name}`],
      { cwd: ROOT, env },
    );
    expect(dryReplace.stdout).toMatch(new RegExp(`^dry run: would DROP and replace database ${db().name} from `));
    expect(await databaseExists(db().name)).toBe(true);
    const refused = await execute(process.execPath, [...tsx, 'restore', `--database=${db().name}`], {
      cwd: ROOT,
      env,
    }).catch((e: { code: number; stderr: string }) => e);
    expect(refused).toMatchObject({ code: 1, stderr: expect.stringContaining('already exists') });
  });
});

/** A folder holding `tool` shims that log their argv and credentials, then run the real tool. */
function recordingTools(log: string): string {
  const shims = mkdtempSync(join(tmpdir(), 'cryb-tool-shims-'));
  for (const tool of ['pg_dump', 'pg_restore'] as const) {
    const real = findPgTool(tool)!;
    writeFileSync(
      join(shims, tool),
      [
        '#!/bin/sh',
        `[ "$1" = "--version" ] && exec "${real}" --version`,
        `out="${log}/${tool}"; mkdir -p "$out"`,
        `cat /proc/$$/cmdline | tr '\\0' '\\n' > "$out/argv"`,
        `printf '%s' "\${PGPASSWORD-}" > "$out/pgpassword"`,
        `if [ -n "$PGPASSFILE" ]; then stat -c %a "$PGPASSFILE" > "$out/mode"; cat "$PGPASSFILE" > "$out/passfile"; ` +
          `printf '%s' "$PGPASSFILE" > "$out/passfile-path"; fi`,
        `exec "${real}" "$@"`,
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
  }
  return shims;
}

/** A pg_dump that reports its version like the real one, then fails with `stderr` (maybe empty). */
function failingPgDump(stderr: string): string {
  const shims = mkdtempSync(join(tmpdir(), 'cryb-failing-'));
  const script = [
    '#!/bin/sh',
    `[ "$1" = "--version" ] && exec "${findPgTool('pg_dump')!}" --version`,
    stderr ? `printf '%s\\n' '${stderr}' >&2` : '',
    'exit 1',
    '',
  ];
  writeFileSync(join(shims, 'pg_dump'), script.join('\n'), { mode: 0o755 });
  return shims;
}

/** The test database's URL with a password (the system server's trust auth takes any; a real one is kept). */
function withPassword(url: string, password: string): { url: string; password: string } {
  const parsed = new URL(url);
  if (parsed.password) return { url, password: decodeURIComponent(parsed.password) };
  parsed.password = encodeURIComponent(password);
  return { url: parsed.toString(), password };
}

describe('credentials and file names handed to child processes', () => {
  it('a URL is split into a password-free --dbname and the password, from the userinfo or a password= parameter', () => {
    expect(toolConnection('postgresql://app:s%3Acret@db.example:5432/cryb?sslmode=require')).toEqual({
      dbname: 'postgresql://app@db.example:5432/cryb?sslmode=require',
      password: 's:cret',
    });
    expect(toolConnection('postgresql://app@db.example/cryb?password=hunter22&sslmode=require')).toEqual({
      dbname: 'postgresql://app@db.example/cryb?sslmode=require',
      password: 'hunter22',
    });
    expect(toolConnection('postgresql://app@db.example/cryb')).toEqual({
      dbname: 'postgresql://app@db.example/cryb',
      password: null,
    });
    expect(passfileLine('a:b\\c')).toBe('*:*:*:*:a\\:b\\\\c\n');
  });

  it('redacts every URL in a message, the userinfo password and the password= parameter', () => {
    const text =
      'failed: postgresql://app:hunter22@h/db and postgres://x@h/db?password=hunter33 then "postgresql://y:zz@h/d"';
    const redacted = redactSecrets(text);
    expect(redacted).not.toMatch(/hunter22|hunter33|:zz@/);
    expect(redacted).toContain('postgresql://app:***@h/db');
  });

  it('a backup file name stays one entry of --dir whatever the database name holds (slashes, .., NUL, dots)', () => {
    const folder = resolve(dir);
    const date = new Date('2026-01-02T03:04:05.006Z');
    for (const name of ['../../etc/passwd', '..', '.', '/abs/path', 'a\0b', 'x/../../y', '.hidden', '..\\..\\win']) {
      const file = backupPath(dir, name, date);
      expect(dirname(file)).toBe(folder);
      expect(basename(file)).toMatch(/^[A-Za-z0-9_%-]+-20260102T030405006Z\.dump$/);
    }
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 63 }), (name) => {
        const file = backupPath(dir, name, date);
        expect(dirname(file)).toBe(folder);
        expect(basename(file)).not.toMatch(/^\./);
        expect(decodeURIComponent(basename(file).replace(/-\d{8}T\d{9}Z\.dump$/, ''))).toBe(name);
      }),
    );
    // Reversible, so two databases never share (or prune) each other's backups.
    expect(backupFileName('a.b', date)).not.toBe(backupFileName('a_b', date));
  });
});

describe.skipIf(!hasTools)(`child processes never see a password on their command line${skipped}`, () => {
  it('pg_dump and pg_restore get the password in a 0600 passfile that is removed afterwards, never in argv', async () => {
    const log = mkdtempSync(join(tmpdir(), 'cryb-tool-log-'));
    const shims = recordingTools(log);
    const out = mkdtempSync(join(tmpdir(), 'cryb-pw-backups-'));
    const { url, password } = withPassword(db().url, 'Pw:with\\odd/chars-7f3a');
    const target = `${db().name}_pw`;
    copies.push(target);
    try {
      const backup = await backupDatabase({ url, dir: out, toolDirs: [shims] });
      const restored = await restoreBackup({
        from: backup.file,
        serverUrl: withPassword(admin(), password).url,
        database: target,
        toolDirs: [shims],
      });
      expect(restored.restored).toBe(true);
      for (const tool of ['pg_dump', 'pg_restore']) {
        const argv = readFileSync(join(log, tool, 'argv'), 'utf8');
        expect(argv).toContain('--dbname=postgresql://');
        expect(argv).not.toContain(password);
        expect(argv).not.toContain(encodeURIComponent(password));
        expect(readFileSync(join(log, tool, 'pgpassword'), 'utf8')).toBe('');
        expect(readFileSync(join(log, tool, 'mode'), 'utf8').trim()).toBe('600');
        expect(readFileSync(join(log, tool, 'passfile'), 'utf8')).toBe(passfileLine(password));
        expect(existsSync(readFileSync(join(log, tool, 'passfile-path'), 'utf8'))).toBe(false);
      }
      expect(await fingerprint(urlOf(target))).toEqual(await fingerprint(db().url));
    } finally {
      for (const folder of [log, shims, out]) rmSync(folder, { recursive: true, force: true });
    }
  }, 60_000);

  it('a failed pg_dump never shows the password, neither from its stderr nor from its command line', async () => {
    const { url, password } = withPassword(db().url, 'hunter2-secret-9c1d');
    const noisy = failingPgDump(
      `pg_dump: error: could not connect to postgresql://app:${password}@db.example/x?password=${password}`,
    );
    const silent = failingPgDump('');
    try {
      for (const shims of [noisy, silent]) {
        const error = (await backupDatabase({ url, dir, toolDirs: [shims] }).catch((e: Error) => e)) as Error;
        expect(error.message).toMatch(/^pg_dump failed: /);
        expect(error.message).not.toContain(password);
        expect(error.stack).not.toContain(password);
      }
    } finally {
      rmSync(noisy, { recursive: true, force: true });
      rmSync(silent, { recursive: true, force: true });
    }
    expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('a database whose URL path decodes to ../../<x> is backed up inside --dir, listed and pruned under its own name', async () => {
    // `pg` leaves %2F encoded, so this URL reaches the database literally named so; decoded it climbs out of --dir.
    const name = `..%2F..%2Fcryb_escape_${db().name.slice(-6)}`;
    const client = new Client({ connectionString: admin() });
    await client.connect();
    await client.query(`create database "${name}" template template0`);
    const out = join(mkdtempSync(join(tmpdir(), 'cryb-confined-')), 'a', 'b');
    try {
      const url = Object.assign(new URL(admin()), { pathname: `/${name}` }).toString();
      expect(decodeURIComponent(new URL(url).pathname)).toBe(`/../../cryb_escape_${db().name.slice(-6)}`);
      const first = await backupDatabase({ url, dir: out, keep: 1 });
      expect(dirname(first.file)).toBe(resolve(out));
      expect(first.database).toBe(name);
      const second = await backupDatabase({ url, dir: out, keep: 1 });
      expect(second.removed).toEqual([first.file]);
      expect(listBackups(out).map((b) => [b.file, b.database])).toEqual([[second.file, name]]);
      expect(readdirSync(resolve(out, '..'))).toEqual(['b']);
      expect(readdirSync(resolve(out, '../..'))).toEqual(['a']);
    } finally {
      await client.query(`drop database if exists "${name}" with (force)`);
      await client.end();
      rmSync(resolve(out, '../..'), { recursive: true, force: true });
    }
  }, 60_000);
});
