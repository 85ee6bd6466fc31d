/**
 * What the transactional outbox costs a unit of work, for two shapes of unit of work:
 * - "messageLike": the write shape of a message send until the Message entity exists: fork, load the
 *   channel, insert one content row that records one event (an AuditLogEntry with the text in its
 *   JSON), set the channel's lastMessageId, flush (one INSERT and one UPDATE);
 * - "profileUpdate": the lightest write there is, the worst case for relative overhead: fork, load a
 *   user, updateProfile (one UPDATE) recording USER_UPDATE, flush.
 * Variant "events" runs it with the outbox recorder (the package's config);
 * variant "no-events" runs the very same code on an ORM built with `subscribers: []`, so the flush
 * writes the change alone. Both run in the same process, against the same scratch database, in
 * interleaved rounds so that drift (autovacuum, caches, CPU boost) hits both alike.
 *
 *   npx tsx bench/events-overhead.ts            # embedded server (started when needed), or DATABASE_URL
 *   BENCH_ROUNDS=10 BENCH_OPS=400 BENCH_CONCURRENCY=8 npx tsx bench/events-overhead.ts
 *
 * Prints one JSON object. The scratch database is created, migrated and dropped by the run.
 */
import { randomBytes } from 'node:crypto';
import { MikroORM } from '@mikro-orm/core';
import { Client } from 'pg';
import { crybConfig } from '../src/db/config';
import { createOrm, migrate, type CrybOrm } from '../src/db/orm';
import { User } from '../src/entities/user/User';
import { Channel, ChannelType } from '../src/entities/channel/Channel';
import { Server } from '../src/entities/server/Server';
import { AuditLogAction, AuditLogEntry } from '../src/entities/server/AuditLogEntry';
import { nextSnowflake } from '../src/domain/snowflake';
import { machine, percentile, round3, scratchDatabase, toStderr } from './support';
import { ServerService } from '../src/servers/server-service';
import { UserService } from '../src/identity/user-service';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const OPS_PER_ROUND = Number(process.env.BENCH_OPS ?? 200);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 300);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);

interface Samples {
  latenciesMs: number[];
  elapsedMs: number;
  ops: number;
}

/** What one worker writes to: its own user, server and channel, so workers never contend for a row. */
interface Slot {
  userId: string;
  serverId: string;
  channelId: string;
}

type UnitOfWork = (orm: CrybOrm, slot: Slot, n: number) => Promise<void>;

const UNITS_OF_WORK: Record<'messageLike' | 'profileUpdate', UnitOfWork> = {
  async messageLike(orm, slot, n) {
    const em = orm.em.fork();
    const channel = await em.findOneOrFail(Channel, slot.channelId);
    const content = `message ${n} ${randomBytes(24).toString('hex')}`;
    const entry = new AuditLogEntry(
      em.getReference(Server, slot.serverId),
      em.getReference(User, slot.userId),
      AuditLogAction.MESSAGE_PIN,
      nextSnowflake(),
      [{ key: 'content', new: content }],
      null,
    );
    em.persist(entry);
    channel.lastMessageId = entry.id;
    await em.flush();
  },
  async profileUpdate(orm, slot, n) {
    const em = orm.em.fork();
    const user = await em.findOneOrFail(User, slot.userId);
    user.updateProfile({ bio: `message ${n} ${randomBytes(6).toString('hex')}` });
    await em.flush();
  },
};

/** `ops` units of work on `workers` concurrent connections, each worker on its own slot (no row contention). */
async function runBatch(
  orm: CrybOrm,
  slots: Slot[],
  ops: number,
  workers: number,
  into: Samples,
  unitOfWork: UnitOfWork,
): Promise<void> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (;;) {
        const n = next++;
        if (n >= ops) return;
        const t0 = performance.now();
        await unitOfWork(orm, slots[w], n);
        into.latenciesMs.push(performance.now() - t0);
      }
    }),
  );
  into.elapsedMs += performance.now() - started;
  into.ops += ops;
}

function summary(samples: Samples) {
  const sorted = [...samples.latenciesMs].sort((a, b) => a - b);
  return {
    opsPerSec: Math.round((samples.ops / samples.elapsedMs) * 1000),
    p50Ms: round3(percentile(sorted, 50)),
    p99Ms: round3(percentile(sorted, 99)),
    iterations: samples.ops,
  };
}

async function measure(
  variants: Record<'events' | 'noEvents', CrybOrm>,
  users: Record<'events' | 'noEvents', Slot[]>,
  workers: number,
  unitOfWork: UnitOfWork,
) {
  const samples = {
    events: { latenciesMs: [], elapsedMs: 0, ops: 0 } as Samples,
    noEvents: { latenciesMs: [], elapsedMs: 0, ops: 0 } as Samples,
  };
  const scratch = { latenciesMs: [], elapsedMs: 0, ops: 0 } as Samples;
  await runBatch(variants.events, users.events, WARMUP, workers, scratch, unitOfWork);
  await runBatch(variants.noEvents, users.noEvents, WARMUP, workers, scratch, unitOfWork);
  const roundRatios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which variant goes first, so neither always runs on the warmer cache; pair each
    // round's two runs, so load from other processes on the machine hits both alike.
    const order: ('events' | 'noEvents')[] = round % 2 === 0 ? ['events', 'noEvents'] : ['noEvents', 'events'];
    const elapsed = { events: 0, noEvents: 0 };
    for (const variant of order) {
      const before = samples[variant].elapsedMs;
      await runBatch(variants[variant], users[variant], OPS_PER_ROUND, workers, samples[variant], unitOfWork);
      elapsed[variant] = samples[variant].elapsedMs - before;
    }
    roundRatios.push(elapsed.events / elapsed.noEvents);
  }
  const events = summary(samples.events);
  const noEvents = summary(samples.noEvents);
  const sortedRatios = [...roundRatios].sort((a, b) => a - b);
  return {
    workers,
    events,
    noEvents,
    // > 1 means the outbox makes the unit of work slower by that factor (total time, all rounds).
    overheadRatio: round3(noEvents.opsPerSec / events.opsPerSec),
    // The same per paired round; the median resists bursts of load from other processes.
    medianRoundRatio: round3(percentile(sortedRatios, 50)),
    roundRatioRange: [round3(sortedRatios[0]), round3(sortedRatios[sortedRatios.length - 1])],
    p50Ratio: round3(events.p50Ms / noEvents.p50Ms),
  };
}

async function main(): Promise<void> {
  const scratch = await scratchDatabase('cryb_bench_events');
  const url = scratch.url;
  const poolSize = Math.max(CONCURRENCY, 1) + 2;
  let withEvents: CrybOrm | undefined;
  let withoutEvents: CrybOrm | undefined;
  try {
    withEvents = await createOrm({ clientUrl: url, poolSize, migrations: 'ignore', logger: toStderr });
    await migrate(withEvents);
    withoutEvents = await MikroORM.init({
      ...crybConfig({ clientUrl: url, poolSize, logger: toStderr }),
      subscribers: [],
    });

    const users = { events: [] as Slot[], noEvents: [] as Slot[] };
    for (const variant of ['events', 'noEvents'] as const) {
      for (let i = 0; i < Math.max(CONCURRENCY, 1); i++) {
        const user = await new UserService(withEvents.em.fork()).register({ username: `bench_${variant}_${i}` });
        const server = await new ServerService(withEvents.em.fork()).createServer(user, {
          name: `bench ${variant} ${i}`,
        });
        const channel = await withEvents.em
          .fork()
          .findOneOrFail(Channel, { server: server.id, type: ChannelType.GUILD_TEXT });
        users[variant].push({ userId: user.id, serverId: server.id, channelId: channel.id });
      }
    }
    const variants = { events: withEvents, noEvents: withoutEvents };
    if (process.env.BENCH_EXPERIMENT_NO_NOTIFY === '1') {
      // Diagnosis only: how much of the overhead is the NOTIFY trigger rather than the outbox row.
      await withEvents.em.fork().execute(`alter table "DomainEvent" disable trigger "DomainEvent_notify"`);
    }

    const results: Record<string, unknown> = {};
    for (const [name, unitOfWork] of Object.entries(UNITS_OF_WORK)) {
      const serial = await measure(variants, users, 1, unitOfWork);
      const concurrent = CONCURRENCY > 1 ? await measure(variants, users, CONCURRENCY, unitOfWork) : null;
      results[name] = { serial, concurrent };
    }

    // Check the variants did what they claim: one event per "events" unit of work, none from the other.
    const probe = new Client({ connectionString: url });
    await probe.connect();
    const counts = await probe.query<{ type: string; n: string; users: string }>(
      `select "type", count(*)::text as n, count(distinct "userIds"[1])::text as users from "DomainEvent"
        group by "type" order by "type"`,
    );
    const noEventUsers = await probe.query<{ n: string }>(
      `select count(*)::text as n from "DomainEvent"
        where ("userIds"[1] = any($1::bigint[]) and "type" = 'USER_UPDATE') or ("serverId" = any($2::bigint[])
          and "type" = 'GUILD_AUDIT_LOG_ENTRY_CREATE')`,
      [users.noEvents.map((s) => s.userId), users.noEvents.map((s) => s.serverId)],
    );
    await probe.end();

    console.log(
      JSON.stringify(
        {
          benchmark: 'events-overhead',
          unitsOfWork: {
            messageLike:
              'fork, findOne(Channel), insert one content row recording one event, set channel.lastMessageId, flush',
            profileUpdate: 'fork, findOne(User), user.updateProfile({ bio }) recording one USER_UPDATE, flush',
          },
          goal: 'overhead ratio under 1.2 on a message-send-like unit of work',
          ...results,
          rounds: ROUNDS,
          opsPerRoundPerVariant: OPS_PER_ROUND,
          warmupPerVariant: WARMUP,
          eventsWritten: Object.fromEntries(counts.rows.map((r) => [r.type, Number(r.n)])),
          eventsFromNoEventsVariant: Number(noEventUsers.rows[0].n),
          machine: machine(await scratch.serverVersion()),
        },
        null,
        2,
      ),
    );
  } finally {
    await withoutEvents?.close(true);
    await withEvents?.close(true);
    await scratch.drop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
