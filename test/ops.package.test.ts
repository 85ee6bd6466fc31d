import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
}

/** The service a backend team would write: no TypeScript anywhere (a require hook refuses to load it). */
const SERVICE = `
const Module = require('node:module');
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (/^(typescript|ts-morph|@mikro-orm\\/reflection|tsx)(\\/|$)/.test(request)) throw new Error('TypeScript tooling is not available here: ' + request);
  return resolveFilename.call(this, request, ...rest);
};
const { createOrm, User, UserService, VoiceService, Server, Channel, ChannelType, Message, Invite, ServerMember, DomainError } = require('@cryb/database');

(async () => {
  const orm = await createOrm({ poolSize: 4, logger: () => undefined });
  try {
    const users = (em) => new UserService(em);
    const alice = await users(orm.em.fork()).register({ username: 'alice' });
    const bob = await users(orm.em.fork()).register({ username: 'bob' });
    const server = await orm.em.fork().getRepository(Server).createServer(alice, { name: 'Packaged' });
    const lounge = await orm.em.fork().getRepository(Channel).createChannel(alice, server.id, { type: ChannelType.GUILD_VOICE, name: 'lounge' });
    const text = await orm.em.fork().getRepository(Channel).createChannel(alice, server.id, { type: ChannelType.GUILD_TEXT, name: 'chat' });
    const voice = await new VoiceService(orm.em.fork()).joinVoice(alice, lounge.id);
    const me = await orm.em.fork().getRepository(User).findOneOrFail(alice.id);
    const request = await me.sendFriendRequest(bob.tag);
    const invite = await orm.em.fork().getRepository(Invite).createInvite(alice, text.id);
    await orm.em.fork().getRepository(ServerMember).acceptInvite(bob, invite.code);
    const hello = await orm.em.fork().getRepository(Message).send(bob, text.id, 'hello from a packaged service <@' + alice.id + '>');
    const [row] = await orm.em.fork().execute('select content from "Message" where id = ?', [hello.id]);
    let refused = null;
    try { await users(orm.em.fork()).register({ username: 'x' }); } catch (error) { refused = error instanceof DomainError ? error.code : String(error); }
    console.log(JSON.stringify({ alice: alice.tag, bob: bob.tag, server: server.name, lounge: lounge.name, text: text.name, voiceChannel: String(voice.channel.id), friendRequest: request.typeFor(alice.id), message: row.content, mentions: hello.mentionUserIds, refused }));
  } finally {
    await orm.close(true);
  }
})().catch((error) => { console.error(error); process.exit(1); });
`;

afterAll(async () => {
  const admin = new Client({ connectionString: inject('adminUrl') });
  await admin.connect();
  await admin.query(`drop database if exists "${database}" with (force)`);
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
    for (const file of ['package.json', 'README.md', 'bin/cryb-db.js', 'dist/index.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/metadata.json', 'dist/mikro-orm.config.js', 'dist/src/ops/cli.js']) {
      expect(files, file).toContain(file);
    }
    expect(files.filter((f) => /^dist\/src\/migrations\/Migration.*\.js$/.test(f)).length).toBeGreaterThan(0);
    expect(files.filter((f) => /^(src|test|bench)\//.test(f) || f.endsWith('.map') || f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);

    mkdirSync(consumer);
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'cryb-consumer', version: '1.0.0', private: true }));
    const install = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(work, packed.filename)], consumer);
    expect(install.code, install.stderr).toBe(0);
    const installed = join(consumer, 'node_modules', '@cryb', 'database');
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { types: string; exports: Record<string, { types: string }> };
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
    expect(story).toMatchObject({ server: 'Packaged', lounge: 'lounge', text: 'chat', friendRequest: 4, refused: 'VALIDATION_FAILED' });
    expect(story.alice).toMatch(/^alice#\d{4}$/);
    expect(story.message).toMatch(/^hello from a packaged service <@\d+>$/);
    expect(story.mentions).toHaveLength(1);

    const health = await run(bin, ['health', '--json', '--tps-sample-ms=0'], consumer, { DATABASE_URL: url });
    expect([0, 1], health.stderr).toContain(health.code);
    expect(JSON.parse(health.stdout)).toMatchObject({ reachable: true, migrations: { pending: [] }, server: { database } });
  }, 300_000);
});
