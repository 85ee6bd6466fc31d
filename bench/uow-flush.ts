/**
 * Writing 10,000 new messages at once, five ways, against the same scratch database (the small
 * scenario seeded into it), in interleaved rounds (median of BENCH_ROUNDS):
 * - "uow": the unit of work as the package's code writes: `new Message(channel, author, content)`,
 *   persist, one flush (timed from the first constructor to the commit);
 * - "uowBatch1000": the same with batchSize 1000 instead of MikroORM's 300 (it does not help);
 * - "insertMany": `em.insertMany` in chunks of 1,000 (it ignores batchSize), one transaction;
 * - "rawInsert": raw `pg`, multi-row INSERT of 1,000 rows per statement with bind parameters, one
 *   transaction: the baseline of the issue's goal (uow >= 0.4x of it);
 * - "copy": COPY through pg-copy-streams, for reference.
 * Every variant writes the same columns (content, author, channel, server, the defaults explicit).
 *
 *   npx tsx bench/uow-flush.ts        BENCH_ROWS=10000 BENCH_ROUNDS=5 npx tsx bench/uow-flush.ts
 *
 * Prints one JSON object; the scratch database is dropped at the end.
 */
import { Client } from 'pg';
import { createOrm, migrate, type CrybOrm } from '../src/db/orm';
import { nextSnowflake } from '../src/domain/snowflake';
import { Channel } from '../src/entities/channel/Channel';
import { Message } from '../src/entities/message/Message';
import { User } from '../src/entities/user/User';
import { copyRows } from '../src/seeders/world/copy';
import { seedScenario } from '../src/seeders/world/run';
import { machine, percentile, round3, scratchDatabase, toStderr } from './support';

const ROWS = Number(process.env.BENCH_ROWS ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CHUNK = 1000;

/**
 * What was tried on the flush of 10,000 new messages: batchSize 1000 (variant "uowBatch1000", no
 * gain). A CPU profile of the flush shows a third of its time in V8's young-generation garbage
 * collector and in MikroORM's per-entity property propagation (EntityHelper.ensurePropagation);
 * a larger young generation (`NODE_OPTIONS=--max-semi-space-size=64`) cuts the collector's share:
 * `npm run bench` runs this bench a second time with it (the "uow-flush:semi-space-64" entry).
 */
const TUNING = { batchSize: 1000, nodeOptions: process.env.NODE_OPTIONS ?? '' };

type Row = { content: string; authorId: string };

async function main(): Promise<void> {
  const scratch = await scratchDatabase('cryb_bench_uow');
  let orm: CrybOrm | undefined;
  let tuned: CrybOrm | undefined;
  const raw = new Client({ connectionString: scratch.url });
  try {
    orm = await createOrm({ clientUrl: scratch.url, migrations: 'ignore', logger: toStderr });
    await migrate(orm);
    const seeded = await seedScenario(orm.em.fork(), { scenario: 'small', seed: 1, log: null });
    tuned = await createOrm({ clientUrl: scratch.url, migrations: 'ignore', logger: toStderr });
    tuned.config.set('batchSize', TUNING.batchSize);
    await raw.connect();
    const server = seeded.world.servers[0];
    const channelId = server.openChannelIds[1] ?? server.openChannelIds[0];
    const authors = server.memberIds;
    const rows: Row[] = Array.from({ length: ROWS }, (_, i) => ({
      content: `message ${i} about the weekend plans and the new release`,
      authorId: authors[i % authors.length],
    }));

    const viaUnitOfWork = (o: CrybOrm) => async () => {
      const em = o.em.fork();
      const channel = await em.findOneOrFail(Channel, channelId);
      const t0 = performance.now();
      for (const row of rows) em.persist(new Message(channel, em.getReference(User, row.authorId), row.content));
      await em.flush();
      const ms = performance.now() - t0;
      em.clear();
      return ms;
    };
    const variants: Record<string, () => Promise<number>> = {
      uow: viaUnitOfWork(orm),
      uowBatch1000: viaUnitOfWork(tuned),
      insertMany: async () => {
        const t0 = performance.now();
        await orm!.em.fork().transactional(async (tx) => {
          for (let i = 0; i < rows.length; i += CHUNK) {
            await tx.insertMany(
              Message,
              rows.slice(i, i + CHUNK).map((r) => ({
                id: nextSnowflake(),
                channel: channelId,
                serverId: server.id,
                author: r.authorId,
                content: r.content,
                type: 'DEFAULT',
                pinned: false,
                mentionEveryone: false,
                mentionUserIds: [],
                mentionRoleIds: [],
                attachmentCount: 0,
                embedCount: 0,
                hasLink: false,
                editedAt: null,
                replyTo: null,
              })) as never,
            );
          }
        });
        return performance.now() - t0;
      },
      rawInsert: async () => {
        const t0 = performance.now();
        await raw.query('begin');
        for (let i = 0; i < rows.length; i += CHUNK) {
          const chunk = rows.slice(i, i + CHUNK);
          const params: unknown[] = [];
          const values = chunk.map((r) => {
            params.push(nextSnowflake(), channelId, server.id, r.authorId, r.content);
            const n = params.length;
            return (
              `($${n - 4}, $${n - 3}, $${n - 2}, $${n - 1}, 'DEFAULT', $${n}, null, false, null, false, '{}', ` +
              `'{}', 0, 0, false)`
            );
          });
          await raw.query(
            `insert into "Message" ("id", "channelId", "serverId", "authorId", "type", "content", "editedAt", "pinned",
              "replyToId", "mentionEveryone", "mentionUserIds", "mentionRoleIds", "attachmentCount", "embedCount",
              "hasLink") values ${values.join(', ')}`,
            params,
          );
        }
        await raw.query('commit');
        return performance.now() - t0;
      },
      copy: async () => {
        const t0 = performance.now();
        await raw.query('begin');
        await copyRows(
          raw,
          'Message',
          rows.map((r) => [
            nextSnowflake(),
            channelId,
            server.id,
            r.authorId,
            'DEFAULT',
            r.content,
            null,
            null,
            [],
            0,
            0,
            false,
          ]),
        );
        await raw.query('commit');
        return performance.now() - t0;
      },
    };
    const samples: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
    for (const run of Object.values(variants)) await run(); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, run] of Object.entries(variants)) samples[name].push(await run());
      toStderr(
        `[bench] uow-flush round ${round + 1}/${ROUNDS}: ${Object.entries(samples)
          .map(([k, v]) => `${k} ${Math.round(v[v.length - 1])} ms`)
          .join(', ')}`,
      );
    }
    const median = (v: number[]) =>
      percentile(
        [...v].sort((a, b) => a - b),
        50,
      );
    const rate = (name: string) => Math.round(ROWS / (median(samples[name]) / 1000));
    const base = rate('rawInsert');
    const result = Object.fromEntries(
      Object.keys(variants).map((name) => [
        name,
        {
          medianMs: round3(median(samples[name])),
          rowsPerSecond: rate(name),
          vsRawInsert: round3(rate(name) / base),
          vsCopy: round3(rate(name) / rate('copy')),
        },
      ]),
    );
    console.log(
      JSON.stringify(
        {
          bench: 'uow-flush',
          rows: ROWS,
          rounds: ROUNDS,
          tuning: TUNING,
          results: result,
          goal: { uowVsRawInsert: 0.4, met: result.uow.vsRawInsert >= 0.4 },
          machine: machine(await scratch.serverVersion()),
        },
        null,
        2,
      ),
    );
  } finally {
    await raw.end().catch(() => undefined);
    await tuned?.close(true);
    await orm?.close(true);
    await scratch.drop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
