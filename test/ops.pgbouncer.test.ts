import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { EntityManager } from '@mikro-orm/postgresql';
import { VoiceChannelFull } from '../src/domain/errors';
import { nextSnowflake } from '../src/domain/snowflake';
import { createOrm, migrate, type CrybOrm } from '../src/db/orm';
import { listenForEvents } from '../src/db/event-listener';
import { EVENTS_CHANNEL } from '../src/entities/events/DomainEventRepository';
import { User } from '../src/entities/user/User';
import { VoiceService } from '../src/voice/voice-service';
import { Pgbouncer, pgbouncerBinary } from './support/clusters';
import { useTestDatabase } from './support/db';
import { membershipHelpers } from './support/membership';
import { MembershipService } from '../src/servers/membership-service';
import { UserService } from '../src/identity/user-service';

/**
 * The domain's races, run through a real pgbouncer in transaction pooling mode: every transaction
 * may land on a different server connection, so only transaction-scoped state (pg_advisory_xact_lock,
 * row locks) may carry a rule. Setup runs on a direct connection; the races go through pgbouncer.
 */

const skipReason = pgbouncerBinary ? '' : ' (skipped: pgbouncer not found; apt-get install pgbouncer)';
const SERVER_POOL = 8;
const db = useTestDatabase();
const { world, invites } = membershipHelpers(db);
let bouncer: Pgbouncer | undefined;
let orm: CrybOrm;

async function raceThrough<T>(
  n: number,
  operation: (em: EntityManager, i: number) => Promise<T>,
): Promise<PromiseSettledResult<T>[]> {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const runs = Array.from({ length: n }, async (_, i) => {
    const em = orm.em.fork();
    await gate;
    return operation(em, i);
  });
  release();
  return Promise.allSettled(runs);
}
const ok = <T>(r: PromiseSettledResult<T>[]) =>
  r.filter((x): x is PromiseFulfilledResult<T> => x.status === 'fulfilled').map((x) => x.value);
const failed = <T>(r: PromiseSettledResult<T>[]) =>
  r.filter((x): x is PromiseRejectedResult => x.status === 'rejected').map((x) => x.reason as unknown);

describe.skipIf(!pgbouncerBinary)(`behind pgbouncer in transaction pooling mode${skipReason}`, () => {
  beforeAll(async () => {
    const server = new URL(inject('adminUrl'));
    bouncer = await Pgbouncer.start({ host: server.hostname, port: Number(server.port || 5432) }, SERVER_POOL);
    // The URL options the platform's services already use, mapped to the pool.
    orm = await createOrm({ clientUrl: bouncer.url(db().name, '?pgbouncer=true&connection_limit=30') });
  }, 60_000);

  afterAll(async () => {
    await orm?.close(true);
    await bouncer?.stop();
  });

  it('maps ?pgbouncer=true&connection_limit=30 to a pool of 30 and a URL pg can use', () => {
    expect(orm.config.get('pool')).toMatchObject({ max: 30 });
    expect(orm.config.get('clientUrl')).toBe(bouncer!.url(db().name));
  });

  it(`30 concurrent registrations of one username over ${SERVER_POOL} server connections end in 30 distinct discriminators`, async () => {
    const results = await raceThrough(30, (em) => new UserService(em).register({ username: 'pooled' }));
    expect(failed(results)).toEqual([]);
    expect(new Set(ok(results).map((u) => u.discriminator)).size).toBe(30);
    expect(
      await db().sql(
        `select count(*)::int as n, count(distinct discriminator)::int as d from "User"
          where lower(username) = 'pooled'`,
      ),
    ).toEqual([{ n: 30, d: 30 }]);
    // pgbouncer multiplexed the 30 clients onto its small server pool: proof the test went through it.
    const pool = (await bouncer!.pools()).find((p) => p.database === db().name);
    expect(pool).toBeDefined();
    expect(Number(pool!.sv_active) + Number(pool!.sv_idle) + Number(pool!.sv_used)).toBeLessThanOrEqual(SERVER_POOL);
    expect(Number(pool!.cl_active) + Number(pool!.cl_waiting)).toBeGreaterThan(SERVER_POOL);
  });

  it('20 concurrent joins through an invite with maxUses 5 give exactly 5 members', async () => {
    const w = await world();
    const invite = await invites().createInvite(w.owner, w.textId, { maxUses: 5, maxAge: 0 });
    const users = await Promise.all(
      Array.from({ length: 20 }, (_, i) => new UserService(db().fork()).register({ username: `bounce${i}` })),
    );
    const results = await raceThrough(20, (em, i) => new MembershipService(em).acceptInvite(users[i].id, invite.code));
    expect(ok(results)).toHaveLength(5);
    for (const failure of failed(results)) expect(failure).toMatchObject({ code: 'INVITE_INVALID', reason: 'used_up' });
    expect(await db().sql(`select uses from "Invite" where code = $1`, [invite.code])).toEqual([{ uses: 5 }]);
    expect(
      await db().sql(`select count(*)::int as n from "ServerMember" where "serverId" = $1`, [w.server.id]),
    ).toEqual([{ n: 6 }]);
  });

  it('12 concurrent voice joins into a channel with userLimit 3 give exactly 3 voice states', async () => {
    const w = await world();
    const users: User[] = [];
    for (let i = 0; i < 12; i++) {
      const user = await new UserService(db().fork()).register({ username: `caller${i}` });
      await new MembershipService(db().fork()).acceptInvite(user, w.code);
      users.push(user);
    }
    const vc = nextSnowflake();
    await db().sql(
      `insert into "Channel" (id, "serverId", type, name, bitrate, "userLimit") values ($1, $2, 'GUILD_VOICE',
        'pooled-voice', 64000, 3)`,
      [vc, w.server.id],
    );
    const results = await raceThrough(12, (em, i) => new VoiceService(em).joinVoice(users[i].id, vc));
    expect(ok(results)).toHaveLength(3);
    for (const failure of failed(results)) expect(failure).toBeInstanceOf(VoiceChannelFull);
    expect(await db().sql(`select count(*)::int as n from "VoiceState" where "channelId" = $1`, [vc])).toEqual([
      { n: 3 },
    ]);
  });

  it('LISTEN through pgbouncer misses the outbox NOTIFY (so the listener needs DATABASE_DIRECT_URL); a direct connection receives it', async () => {
    const throughBouncer = await listenForEvents(bouncer!.url(db().name));
    const direct = await listenForEvents(db().url);
    try {
      // What the outbox trigger sends when an event commits.
      await db().sql(`select pg_notify($1, 'probe')`, [EVENTS_CHANNEL]);
      expect(await direct.wait(5000)).toBe('notified');
      expect(await throughBouncer.wait(1500)).toBe('timeout');
    } finally {
      await throughBouncer.close();
      await direct.close();
    }
  });

  it('two instances migrating a fresh database at once through pgbouncer apply each migration exactly once', async () => {
    const name = `cryb_t_${inject('templateDatabase').split('_').pop()}_bmig_${randomBytes(4).toString('hex')}`;
    const admin = new Client({ connectionString: inject('adminUrl') });
    await admin.connect();
    await admin.query(`create database "${name}"`);
    const instances = await Promise.all(
      [0, 1].map(() =>
        createOrm({
          clientUrl: bouncer!.url(name, '?pgbouncer=true&connection_limit=3'),
          migrations: 'ignore',
          logger: () => undefined,
        }),
      ),
    );
    try {
      const [a, b] = await Promise.all(instances.map((instance) => migrate(instance)));
      const shipped = await instances[0].getMigrator().getExecutedMigrations();
      expect([...a, ...b].sort()).toEqual(shipped.map((m) => m.name).sort());
      expect(a.length === 0 || b.length === 0).toBe(true);
      const rows = await instances[0].em
        .getConnection()
        .execute<{ name: string; n: string }[]>(
          'select name, count(*) as n from mikro_orm_migrations group by name having count(*) > 1',
        );
      expect(rows).toEqual([]);
    } finally {
      await Promise.all(instances.map((instance) => instance.close(true)));
      await admin.query(`drop database if exists "${name}" with (force)`);
      await admin.end();
    }
  });
});
