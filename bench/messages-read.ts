/**
 * Message reads at 1M messages: a 50-message history page and a top-25 full-text search.
 *
 * Dataset (built in SQL with INSERT ... SELECT generate_series, no ORM unit of work): 4 servers of
 * 50 text channels each (5 per server hidden from @everyone), 2,000 members, BENCH_MESSAGES messages
 * (default 1,000,000) over 360 days, channels picked with a Zipf-like (log-uniform) law, content of
 * 4-21 words drawn with the same law from faker's English word lists (deterministic: setseed),
 * about 3% with a link, 1% with an attachment, 5% mentioning a user, 5% with 1-3 reactions. The
 * secondary indexes are dropped during the load and rebuilt after it, then VACUUM (ANALYZE).
 *
 * Measured, alternating per iteration with the same inputs:
 * - "orm": `history(em, reader, channel, { before, limit: 50 })` and `search(em, reader, { text })`,
 *   the package's code (MikroORM `execute`, values inlined into the SQL text);
 * - "rawPg": the same functions on a raw `pg` Pool runner (`historyOn` / `searchOn` with the same
 *   statements, `$n` bind parameters), so the only difference is the SQL layer.
 * The reader is a plain member of every server (the hidden channels are not viewable).
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npx tsx bench/messages-read.ts
 *   BENCH_MESSAGES=200000 BENCH_ITERATIONS=500 npx tsx bench/messages-read.ts
 *
 * Prints one JSON object. The scratch database is created, migrated and dropped by the run.
 */
import { faker } from '@faker-js/faker';
import { Client, Pool } from 'pg';
import { createOrm, migrate, type CrybOrm } from '../src/db/orm';
import { PermissionFlags } from '../src/domain/permissions';
import { CRYB_EPOCH_MS, nextSnowflake } from '../src/domain/snowflake';
import { historyOn } from '../src/entities/message/MessageQueries';
import { toPgQuery } from '../src/entities/message/message-views';
import { readSql, type ReadSql } from '../src/entities/message/read-access';
import { searchOn } from '../src/entities/message/search';
import { machine, percentile, round3, scratchDatabase, toStderr } from './support';
import { ServerService } from '../src/servers/server-service';
import { UserService } from '../src/identity/user-service';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 1_000_000);
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 2000);
const SEARCH_ITERATIONS = Number(process.env.BENCH_SEARCH_ITERATIONS ?? 600);
const SERVERS = 4;
const CHANNELS_PER_SERVER = 50;
const HIDDEN_PER_SERVER = 5;
const USERS = 2000;
const CHUNK = 100_000;

const log = (line: string) => console.error(`[bench] ${line}`);

/** faker's English words: function words first (most frequent, mostly stopwords), then a seeded shuffle. */
function vocabulary(): string[] {
  faker.seed(42);
  const d = faker.definitions.word;
  const top = [...new Set([...d.conjunction, ...d.preposition].filter((w) => /^[a-z]+$/.test(w)))];
  const rest = [
    ...new Set(
      [...d.noun, ...d.verb, ...d.adjective, ...d.adverb, ...d.interjection].filter(
        (w) => /^[a-z]+$/.test(w) && !top.includes(w),
      ),
    ),
  ];
  return [...top, ...faker.helpers.shuffle(rest)];
}

async function build(orm: CrybOrm, sql: ReadSql) {
  const started = performance.now();
  const owner = await new UserService(orm.em.fork()).register({ username: 'bench_owner' });
  const servers: string[] = [];
  for (let s = 0; s < SERVERS; s++)
    servers.push((await new ServerService(orm.em.fork()).createServer(owner, { name: `bench ${s}` })).id);
  const userIds = Array.from({ length: USERS }, () => nextSnowflake());
  await sql(
    `insert into "User" (id, username, discriminator) select u.id, 'member' || u.n, lpad(((u.n % 9999) + 1)::text, 4,
      '0') from unnest(array[?]::bigint[]) with ordinality as u(id, n)`,
    [userIds],
  );
  await sql(
    `insert into "ServerMember" ("serverId", "userId") select s, u from unnest(array[?]::bigint[]) s,
      unnest(array[?]::bigint[]) u`,
    [servers, userIds],
  );
  const channels: { id: string; serverId: string; hidden: boolean }[] = [];
  for (const serverId of servers) {
    for (let c = 0; c < CHANNELS_PER_SERVER; c++)
      channels.push({ id: nextSnowflake(), serverId, hidden: c >= CHANNELS_PER_SERVER - HIDDEN_PER_SERVER });
  }
  await sql(
    `insert into "Channel" (id, "serverId", type, name, position) select c.id, c.s, 'GUILD_TEXT', 'chat-' || c.n, c.n
      from unnest(array[?]::bigint[], array[?]::bigint[]) with ordinality as c(id, s, n)`,
    [channels.map((c) => c.id), channels.map((c) => c.serverId)],
  );
  const hidden = channels.filter((c) => c.hidden);
  await sql(
    `insert into "PermissionOverwrite" ("channelId", "targetId", type, allow, deny) select c.id, c.s, 'ROLE', 0, ?
      from unnest(array[?]::bigint[], array[?]::bigint[]) as c(id, s)`,
    [PermissionFlags.VIEW_CHANNEL.toString(), hidden.map((c) => c.id), hidden.map((c) => c.serverId)],
  );

  // The load: secondary indexes off, rebuilt once at the end (much faster than maintaining them row by row).
  const indexes = await sql<{ def: string; name: string }>(
    `select indexdef as def, indexname as name from pg_indexes where tablename = 'Message'
      and indexname <> 'Message_pkey'`,
    [],
  );
  for (const i of indexes) await sql(`drop index "${i.name}"`, []);
  const words = vocabulary();
  const startMs = BigInt(Date.now()) - CRYB_EPOCH_MS - 360n * 86_400_000n;
  const stepMs = Math.floor((360 * 86_400_000) / MESSAGES);
  // One statement per chunk; random() is seeded per chunk, so the data is the same run to run.
  for (let from = 1; from <= MESSAGES; from += CHUNK) {
    const to = Math.min(MESSAGES, from + CHUNK - 1);
    await sql(`select setseed(?)`, [(from / MESSAGES) * 0.5]);
    await sql(
      `insert into "Message" (id, "channelId", "serverId", "authorId", content, "hasLink", "attachmentCount",
        "mentionUserIds")
       select ((?::bigint + g * ?) << 22) | (g % 4096), ch.id, ch.s,
         p.users[(1 + (g * 7919) % cardinality(p.users))::int],
              body.text || case when g % 33 = 0 then ' https://example.com/p/' || g else '' end,
              g % 33 = 0, (g % 100 = 0)::int, case when g % 20 = 0
                then array[p.users[(1 + (g * 104729) % cardinality(p.users))::int]] else '{}' end
         from (select ?::text[] as words, ?::bigint[] as users, ?::bigint[] as chans, ?::bigint[] as servers) p,
              generate_series(?::bigint, ?::bigint) g,
              lateral (select floor(exp(random() * ln(cardinality(p.chans) + 1)))::int as i where g > 0) pick,
              lateral (select p.chans[pick.i] as id, p.servers[pick.i] as s) ch,
              lateral (select string_agg(p.words[floor(exp(random() * ln(cardinality(p.words) + 1)))::int + w * 0],
                ' ') as text
                         from generate_series(1, 4 + (g * 31 + 7) % 18) w where g > 0) body`,
      [
        startMs.toString(),
        stepMs,
        `{${words.join(',')}}`,
        `{${userIds.join(',')}}`,
        `{${channels.map((c) => c.id).join(',')}}`,
        `{${channels.map((c) => c.serverId).join(',')}}`,
        from,
        to,
      ],
    );
    log(
      `messages ${to.toLocaleString('en')} / ${MESSAGES.toLocaleString('en')} ` +
        `(${round3((performance.now() - started) / 1000)} s)`,
    );
  }
  await sql(
    `insert into "MessageAttachment" (id, "messageId", filename, size, "contentType", url) select id + 1, id,
      'file.png', 1024, 'image/png', 'https://cdn.example.com/' || id from "Message" where "attachmentCount" > 0`,
    [],
  );
  await sql(
    `insert into "Reaction" ("messageId", "emojiKey", "userId", "emojiName")
     select m.id, 'u:' || e.name, (?::bigint[])[(1 + ((m.id >> 22) + e.k * 17 + r) % ?)::int], e.name
       from "Message" m, (values (1, '👍'), (2, '🔥'), (3, '😂')) e(k, name), generate_series(0, 1) r
      where (m.id & 4095) % 20 = 0 and e.k <= 1 + (m.id & 4095) % 3
     on conflict do nothing`,
    [`{${userIds.join(',')}}`, USERS],
  );
  log(`rows loaded (${round3((performance.now() - started) / 1000)} s); building indexes`);
  await sql(`set maintenance_work_mem = '512MB'`, []);
  for (const i of indexes) await sql(i.def, []);
  // VACUUM as autovacuum would on a live table: it sets the visibility map, then ANALYZE.
  await sql(`vacuum (analyze)`, []);
  const buildSeconds: number | null = round3((performance.now() - started) / 1000);
  log(`built in ${buildSeconds} s`);
  return { servers, channels, userIds, words, buildSeconds };
}

function stats(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50Ms: round3(percentile(sorted, 50)), p99Ms: round3(percentile(sorted, 99)), n: sorted.length };
}

/** Runs both variants on the same inputs, alternating which goes first. */
async function measure<I>(
  inputs: I[],
  warmup: number,
  variants: Record<'orm' | 'rawPg', (input: I) => Promise<unknown>>,
) {
  const samples = { orm: [] as number[], rawPg: [] as number[] };
  for (let i = 0; i < inputs.length; i++) {
    const order = i % 2 === 0 ? (['orm', 'rawPg'] as const) : (['rawPg', 'orm'] as const);
    for (const name of order) {
      const t0 = performance.now();
      await variants[name](inputs[i]);
      if (i >= warmup) samples[name].push(performance.now() - t0);
    }
  }
  const orm = stats(samples.orm);
  const rawPg = stats(samples.rawPg);
  return {
    orm,
    rawPg,
    ratio: { p50OrmVsRaw: round3(orm.p50Ms / rawPg.p50Ms), p99OrmVsRaw: round3(orm.p99Ms / rawPg.p99Ms) },
  };
}

/**
 * Realistic searches: mid-frequency words, pairs, a phrase, `or`, an exclusion, a common word; some
 * scoped to a server.
 */
function searchTexts(words: string[]): string[] {
  const w = (rank: number) => words[rank];
  return [
    w(200),
    w(900),
    w(2500),
    `${w(150)} ${w(400)}`,
    `${w(60)} ${w(700)}`,
    `"${w(30)} ${w(31)}"`,
    `${w(500)} or ${w(1500)}`,
    `${w(80)} -${w(90)}`,
    w(40),
    `${w(1000)} ${w(1001)} ${w(1002)}`,
    `${w(120)}ing`,
    `${w(300)} ${w(2000)}`,
  ];
}

/** BENCH_REUSE=<database url>: a database a run kept (BENCH_KEEP=1), to measure again without the build. */
async function reload(sql: ReadSql) {
  const servers = (await sql<{ id: string }>(`select id::text from "Server" order by id`, [])).map((r) => r.id);
  const channels = await sql<{ id: string; serverId: string; hidden: boolean }>(
    `select c.id::text, c."serverId"::text as "serverId", exists (select 1 from "PermissionOverwrite" o
      where o."channelId" = c.id) as hidden
       from "Channel" c where c.name like 'chat-%' order by c.id`,
    [],
  );
  const userIds = (
    await sql<{ id: string }>(`select id::text from "User" where username like 'member%' order by id`, [])
  ).map((r) => r.id);
  return { servers, channels, userIds, words: vocabulary(), buildSeconds: null as number | null };
}

async function main(): Promise<void> {
  const reuse = process.env.BENCH_REUSE;
  const scratch = reuse
    ? {
        url: reuse,
        serverVersion: async () =>
          (await new Pool({ connectionString: reuse, max: 1 }).query('show server_version')).rows[0]
            .server_version as string,
        drop: async () => undefined,
      }
    : await scratchDatabase('cryb_bench_messages');
  let orm: CrybOrm | undefined;
  const pool = new Pool({ connectionString: scratch.url, max: 2 });
  const raw: ReadSql = async <T>(text: string, params: unknown[]) =>
    (await pool.query(toPgQuery(text, params))).rows as T[];
  try {
    orm = await createOrm({ clientUrl: scratch.url, poolSize: 2, migrations: 'ignore', logger: toStderr });
    let data: Awaited<ReturnType<typeof reload>>;
    if (reuse) data = await reload(raw);
    else {
      await migrate(orm);
      // One session for the build: setseed and maintenance_work_mem hold per session.
      const builder = new Client({ connectionString: scratch.url });
      await builder.connect();
      data = await build(
        orm,
        async <T>(text: string, params: unknown[]) => (await builder.query(toPgQuery(text, params))).rows as T[],
      ).finally(() => builder.end());
    }
    const reader = data.userIds[7];
    const visible = data.channels.filter((c) => !c.hidden);
    const ranges = await raw<{ channelId: string; min: string; max: string; n: number }>(
      `select "channelId"::text as "channelId", min(id)::text as min, max(id)::text as max, count(*)::int as n
        from "Message" group by "channelId"`,
      [],
    );
    const byChannel = new Map(ranges.map((r) => [r.channelId, r]));
    faker.seed(7);
    // 20% newest page, 80% a page before a random point of the channel's history.
    const pages = Array.from({ length: ITERATIONS }, () => {
      const channel = faker.helpers.arrayElement(visible);
      const r = byChannel.get(channel.id)!;
      if (faker.number.float() < 0.2) return { channelId: channel.id };
      const span = BigInt(r.max) - BigInt(r.min);
      return {
        channelId: channel.id,
        before: (BigInt(r.min) + (span * BigInt(faker.number.int({ min: 1, max: 1000 }))) / 1000n).toString(),
      };
    });
    const pageSizes: number[] = [];
    const historyFigures = await measure(pages, Math.min(200, ITERATIONS / 10), {
      orm: async (p) =>
        pageSizes.push(
          (
            await historyOn(readSql(orm!.em.fork()), reader, p.channelId, {
              limit: 50,
              ...(p.before ? { before: p.before } : {}),
            })
          ).length,
        ),
      rawPg: (p) => historyOn(raw, reader, p.channelId, { limit: 50, ...(p.before ? { before: p.before } : {}) }),
    });

    const texts = searchTexts(data.words);
    const searches = Array.from({ length: SEARCH_ITERATIONS }, (_, i) => ({
      text: texts[i % texts.length],
      ...(i % 3 === 0 ? { serverId: data.servers[i % SERVERS] } : {}),
    }));
    const hits = new Map<string, number>();
    const searchFigures = await measure(searches, Math.min(60, SEARCH_ITERATIONS / 10), {
      orm: async (q) =>
        hits.set(q.text, (await searchOn(readSql(orm!.em.fork()), reader, { ...q, limit: 25 })).messages.length),
      rawPg: (q) => searchOn(raw, reader, { ...q, limit: 25 }),
    });
    const [counts] = await raw<{ messages: number; reactions: number; bytes: string }>(
      `select (select count(*)::int from "Message") as messages, (select count(*)::int from "Reaction") as reactions,
        pg_size_pretty(pg_total_relation_size('"Message"')) as bytes`,
      [],
    );
    const matches = await raw<{ text: string; n: number }>(
      `select t as text, (select count(*)::int from "Message" where "searchVector" @@ websearch_to_tsquery('english',
        t)) as n from unnest(?::text[]) t`,
      [texts],
    );
    console.log(
      JSON.stringify(
        {
          benchmark: 'messages-read',
          dataset: {
            messages: counts.messages,
            reactions: counts.reactions,
            messageTableSize: counts.bytes,
            servers: SERVERS,
            channels: data.channels.length,
            viewableByReader: visible.length,
            users: USERS,
            buildSeconds: data.buildSeconds,
          },
          history: {
            workload:
              `${pages.length} pages of 50 (20% newest, 80% before a random point), random viewable ` +
              `channels, one reader; after ${Math.min(200, ITERATIONS / 10)} warm-up pages`,
            meanPageSize: round3(pageSizes.reduce((a, b) => a + b, 0) / pageSizes.length),
            ...historyFigures,
            goal: 'orm p50 within 1.3x of raw pg',
          },
          search: {
            workload:
              `${searches.length} top-25 searches over ${texts.length} texts (a third scoped to one server), ` +
              `viewable channels of the reader`,
            queries: matches.map((m) => ({ text: m.text, matchesInTable: m.n, page: hits.get(m.text) })),
            ...searchFigures,
            goal: 'orm p50 under 25 ms',
          },
          machine: { ...machine(await scratch.serverVersion()), ...(reuse ? { server: 'BENCH_REUSE' } : {}) },
        },
        null,
        2,
      ),
    );
  } finally {
    await pool.end();
    await orm?.close(true);
    if (process.env.BENCH_KEEP === '1') log(`kept the database: BENCH_REUSE=${scratch.url}`);
    else await scratch.drop();
  }
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  // A kept or reused database leaves its admin connection open.
  .finally(() => (process.env.BENCH_KEEP === '1' || process.env.BENCH_REUSE ? process.exit() : undefined));
