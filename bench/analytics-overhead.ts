/**
 * What recording analytics costs a message send: MessageService.send (permissions, slowmode,
 * mentions, counters, events, the message row) with its MessageAnalytics row ("analytics") and
 * without it ("noAnalytics": the very same code and statement, for users whose analytics rows a
 * bench-only BEFORE INSERT trigger on the scratch database drops, so the row is never written).
 * Interleaved paired rounds against one scratch database, so drift hits both alike.
 * Goal (issue 7): sending with analytics at most 1.3x slower than without.
 *
 *   npx tsx bench/analytics-overhead.ts        # embedded server (started when needed), or DATABASE_URL
 *   BENCH_ROUNDS=10 BENCH_OPS=200 BENCH_CONCURRENCY=4 npx tsx bench/analytics-overhead.ts
 *
 * Prints one JSON object; the scratch database is created, migrated and dropped by the run.
 */
import { createOrm, migrate, type CrybOrm } from '../src/db/orm';
import { analyticsLayerState } from '../src/entities/analytics/maintenance';
import { Channel, ChannelType } from '../src/entities/channel/Channel';
import { MessageService } from '../src/messaging/message-service';
import { machine, percentile, round3, scratchDatabase, toStderr } from './support';
import { ServerService } from '../src/servers/server-service';
import { UserService } from '../src/identity/user-service';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const OPS_PER_ROUND = Number(process.env.BENCH_OPS ?? 200);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 200);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);

type Variant = 'analytics' | 'noAnalytics';
interface Slot {
  userId: string;
  channelId: string;
}
interface Samples {
  latenciesMs: number[];
  elapsedMs: number;
  ops: number;
}

async function runBatch(orm: CrybOrm, slots: Slot[], ops: number, workers: number, into: Samples): Promise<void> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (;;) {
        const n = next++;
        if (n >= ops) return;
        const t0 = performance.now();
        await new MessageService(orm.em.fork()).send(
          slots[w].userId,
          slots[w].channelId,
          `message ${n} with some ordinary text in it`,
        );
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

async function measure(orm: CrybOrm, slots: Record<Variant, Slot[]>, workers: number) {
  const samples: Record<Variant, Samples> = {
    analytics: { latenciesMs: [], elapsedMs: 0, ops: 0 },
    noAnalytics: { latenciesMs: [], elapsedMs: 0, ops: 0 },
  };
  const run = async (variant: Variant, ops: number, into: Samples) => {
    await runBatch(orm, slots[variant], ops, workers, into);
  };
  const scratch: Samples = { latenciesMs: [], elapsedMs: 0, ops: 0 };
  await run('analytics', WARMUP, scratch);
  await run('noAnalytics', WARMUP, scratch);
  const ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order: Variant[] = round % 2 === 0 ? ['analytics', 'noAnalytics'] : ['noAnalytics', 'analytics'];
    const elapsed = { analytics: 0, noAnalytics: 0 };
    for (const variant of order) {
      const before = samples[variant].elapsedMs;
      await run(variant, OPS_PER_ROUND, samples[variant]);
      elapsed[variant] = samples[variant].elapsedMs - before;
    }
    ratios.push(elapsed.analytics / elapsed.noAnalytics);
  }
  const analytics = summary(samples.analytics);
  const noAnalytics = summary(samples.noAnalytics);
  const sorted = [...ratios].sort((a, b) => a - b);
  return {
    workers,
    analytics,
    noAnalytics,
    // > 1: sending with analytics is slower by that factor (throughput over all rounds).
    slowdown: round3(noAnalytics.opsPerSec / analytics.opsPerSec),
    medianRoundSlowdown: round3(percentile(sorted, 50)),
    roundSlowdownRange: [round3(sorted[0]), round3(sorted[sorted.length - 1])],
  };
}

async function main(): Promise<void> {
  const scratch = await scratchDatabase('cryb_bench_analytics');
  let orm: CrybOrm | undefined;
  try {
    orm = await createOrm({
      clientUrl: scratch.url,
      poolSize: CONCURRENCY + 2,
      migrations: 'ignore',
      logger: toStderr,
    });
    await migrate(orm);
    const slots: Record<Variant, Slot[]> = { analytics: [], noAnalytics: [] };
    for (const variant of ['analytics', 'noAnalytics'] as const) {
      for (let i = 0; i < CONCURRENCY; i++) {
        const user = await new UserService(orm.em.fork()).register({ username: `bench_${variant}_${i}` });
        const server = await new ServerService(orm.em.fork()).createServer(user, { name: `bench ${variant} ${i}` });
        const channel = await orm.em.fork().findOneOrFail(Channel, { server: server.id, type: ChannelType.GUILD_TEXT });
        slots[variant].push({ userId: user.id, channelId: channel.id });
      }
    }
    const skipped = slots.noAnalytics.map((s) => s.userId).join(',');
    await orm.em.execute(
      'create function bench_skip_row() returns trigger language plpgsql as $$ begin return null; end $$',
    );
    await orm.em.execute(
      `create trigger bench_no_analytics before insert on "MessageAnalytics" for each row
        when (new."userId" = any('{${skipped}}'::bigint[])) execute function bench_skip_row()`,
    );
    const serial = await measure(orm, slots, 1);
    const concurrent = CONCURRENCY > 1 ? await measure(orm, slots, CONCURRENCY) : null;
    const em = orm.em.fork();
    const rowsOf = async (variant: Variant) =>
      Number(
        (
          await em.execute<{ n: string }[]>(
            `select count(*)::text as n from "MessageAnalytics"
              where "userId" = any(array[${slots[variant].map((s) => s.userId).join(',')}]::bigint[])`,
          )
        )[0].n,
      );
    const sentOf = async (variant: Variant) =>
      Number(
        (
          await em.execute<{ n: string }[]>(
            `select count(*)::text as n from "Message" where "authorId" =
              any(array[${slots[variant].map((s) => s.userId).join(',')}]::bigint[])`,
          )
        )[0].n,
      );
    console.log(
      JSON.stringify(
        {
          benchmark: 'analytics-overhead',
          unitOfWork:
            'MessageService.send in a server text channel (fresh fork per send), with and without its ' +
            'MessageAnalytics row',
          goal: 'slowdown at most 1.3',
          analyticsPath: (await analyticsLayerState(em)).path,
          serial,
          concurrent,
          rounds: ROUNDS,
          opsPerRoundPerVariant: OPS_PER_ROUND,
          warmupPerVariant: WARMUP,
          check: {
            analyticsVariant: { sent: await sentOf('analytics'), analyticsRows: await rowsOf('analytics') },
            noAnalyticsVariant: { sent: await sentOf('noAnalytics'), analyticsRows: await rowsOf('noAnalytics') },
          },
          machine: machine(await scratch.serverVersion()),
        },
        null,
        2,
      ),
    );
  } finally {
    await orm?.close(true);
    await scratch.drop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
