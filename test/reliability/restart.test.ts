/**
 * The database restarts during a seeding batch: the server is stopped (fast shutdown, as a restart
 * or a failover does) right after the seed's first phase commits, while the next batch is being
 * written. The seed fails with DatabaseUnavailable, no half-written batch remains, and once the
 * server is back a resumed seed finishes a world that passes every invariant; the domain works on it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseUnavailable } from '../../src/domain/errors';
import { checkInvariants } from '../../src/db/invariants';
import { EmbeddedServer, freePort } from '../../src/db/embedded-server';
import { createOrm, migrate, type CrybOrm } from '../../src/db/orm';
import { Message } from '../../src/entities/message/Message';
import { MessageService } from '../../src/messaging/message-service';
import { seedScenario } from '../../src/seeders/world/run';

let server: EmbeddedServer;
let baseDir: string;
let orm: CrybOrm | undefined;

beforeAll(async () => {
  baseDir = mkdtempSync(join(tmpdir(), 'cryb-restart-'));
  server = new EmbeddedServer({ baseDir, port: await freePort(), log: () => undefined });
  await server.start();
  await server.ensureDatabase('cryb');
}, 120_000);

afterAll(async () => {
  await orm?.close(true).catch(() => undefined);
  await server?.destroy();
  rmSync(baseDir, { recursive: true, force: true });
});

const openOrm = async () =>
  createOrm({ clientUrl: server.urlFor('cryb'), poolSize: 3, migrations: 'ignore', logger: () => undefined });

describe('a database restart during a seeding batch', () => {
  it('fails the seed typed, leaves no partial batch, and a resumed seed completes a sound world', async () => {
    orm = await openOrm();
    await migrate(orm);
    let stopping: Promise<unknown> | undefined;
    const failure = await seedScenario(orm.em.fork(), {
      scenario: 'small',
      seed: 5,
      log: null,
      onPhase: (name) => {
        if (name === 'structure') stopping = server.stop();
      },
    }).then(
      () => undefined,
      (error: unknown) => error,
    );
    await stopping;
    expect(failure).toBeInstanceOf(DatabaseUnavailable);
    await orm.close(true).catch(() => undefined);

    await server.start();
    orm = await openOrm();
    const raw = orm.em.fork().getConnection();
    // The structure phase committed; the message batch that was being written did not.
    expect(Number((await raw.execute('select count(*) as n from "User"'))[0].n)).toBe(20);
    expect(Number((await raw.execute('select count(*) as n from "Message"'))[0].n)).toBe(0);

    const report = await seedScenario(orm.em.fork(), { scenario: 'small', seed: 5, log: null, resume: true });
    expect(report.resumed).toBe(true);
    expect(report.violations).toEqual([]);
    expect(await checkInvariants(orm.em.fork())).toEqual([]);
    const [member] = await raw.execute<{ userId: string; channelId: string }[]>(
      `select sm."userId"::text, c.id::text as "channelId" from "Server" s join "ServerMember" sm
        on sm."serverId" = s.id and sm."userId" = s."ownerId"
        join "Channel" c on c."serverId" = s.id and c.type = 'GUILD_TEXT' limit 1`,
    );
    await expect(
      new MessageService(orm.em.fork()).send(member.userId, member.channelId, 'after the restart'),
    ).resolves.toBeInstanceOf(Message);
  }, 180_000);
});
