import { beforeAll, describe, expect, it } from 'vitest';
import { nextSnowflake } from '../src/domain/snowflake';
import { historyQuery, mentionsQuery } from '../src/entities/message/MessageQueries';
import { readAccessSql, readSql, viewableChannelIds } from '../src/entities/message/read-access';
import { parseSearchQuery, searchBucketQuery, searchBuckets, searchQuery } from '../src/entities/message/search';
import { useTestDatabase } from './support/db';
import { messagingHelpers, type MessagingWorld } from './support/messaging';

const db = useTestDatabase();
const h = messagingHelpers(db);

const MESSAGES = 120_000;
const CHANNELS = 20;

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

/** EXPLAIN (FORMAT JSON) of a statement exactly as MikroORM sends it (values inlined by the platform). */
async function explain(sql: string, params: unknown[]): Promise<PlanNode[]> {
  const text = db().orm.em.getPlatform().formatQuery(sql, params);
  const [row] = await db().sql<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`explain (format json) ${text}`);
  return nodes(row['QUERY PLAN'][0].Plan);
}

const uses = (plan: PlanNode[], type: RegExp, index: string) =>
  plan.some((n) => type.test(n['Node Type']) && n['Index Name'] === index);
const seqScansMessage = (plan: PlanNode[]) =>
  plan.some((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'Message');

describe(`EXPLAIN on ${MESSAGES.toLocaleString('en')} messages`, () => {
  let w: MessagingWorld;
  let reader: string;
  let channels: string[];
  let middle: string;
  beforeAll(async () => {
    w = await h.world();
    reader = (await h.joined(w, 'reader')).id;
    channels = [w.textId];
    for (let i = 1; i < CHANNELS; i++) channels.push(await h.channel(w.server.id));
    // Multi-row INSERT ... SELECT in chunks (not one flush of 120k entities): ids ascend like snowflakes,
    // channels round-robin, one message in 1,000 holds a rare word, one in 5,000 mentions the reader.
    const base = BigInt(nextSnowflake());
    for (let from = 1; from <= MESSAGES; from += 40_000) {
      await db().sql(
        `insert into "Message" (id, "channelId", "serverId", "authorId", content, "mentionUserIds")
         select $1::bigint + g::bigint * 4194304, ($2::bigint[])[1 + g % $3], $4, $5,
                (array['hello there', 'what a day', 'see you soon', 'the build is green',
                  'lunch at noon'])[1 + g % 5] || ' ' || g
                  || case when g % 1000 = 0 then ' narwhal' else '' end,
                case when g % 5000 = 0 then array[$6::bigint] else '{}' end
           from generate_series($7::int, $8::int) g`,
        [base.toString(), channels, CHANNELS, w.server.id, w.owner.id, reader, from, Math.min(MESSAGES, from + 39_999)],
      );
    }
    await db().sql('analyze');
    [{ id: middle }] = await db().sql<{ id: string }>(
      `select id::text from "Message" where "channelId" = $1 order by id offset 3000 limit 1`,
      [w.textId],
    );
  });

  it('has the rows', async () => {
    expect((await db().sql<{ n: number }>(`select count(*)::int as n from "Message"`))[0].n).toBeGreaterThanOrEqual(
      100_000,
    );
  });

  it('history pages read "Message_channelId_id_index" (keyset on channelId, id), never a Seq Scan', async () => {
    for (const cursor of [
      { kind: 'latest' as const },
      { kind: 'before' as const, id: middle },
      { kind: 'after' as const, id: middle },
      { kind: 'around' as const, id: middle },
    ]) {
      const { sql, params } = historyQuery(w.textId, cursor, 50);
      const plan = await explain(sql, params);
      expect(
        uses(plan, /Index Scan/, 'Message_channelId_id_index'),
        `${cursor.kind}: ${JSON.stringify(plan.map((n) => [n['Node Type'], n['Index Name']]))}`,
      ).toBe(true);
      expect(seqScansMessage(plan), cursor.kind).toBe(false);
    }
    // The access check reads by primary keys too.
    const access = readAccessSql(w.textId, reader);
    expect(seqScansMessage(await explain(access.sql, access.params))).toBe(false);
  });

  it('search finds matches through "Message_searchVector_index" (Bitmap Index Scan); its time buckets use an index too', async () => {
    const viewable = await viewableChannelIds(readSql(db().fork()), reader);
    expect(viewable).toEqual(expect.arrayContaining(channels));
    for (const text of ['narwhal', '"narwhal" -whale', 'narwhal or unicorn']) {
      const parsed = parseSearchQuery({ text });
      const probe = searchQuery(parsed, viewable);
      const plan = await explain(probe.sql, probe.params);
      expect(uses(plan, /^Bitmap Index Scan$/, 'Message_searchVector_index'), text).toBe(true);
      expect(seqScansMessage(plan), text).toBe(false);
      const parsedFiltered = parseSearchQuery({ text, authorId: w.owner.id, after: new Date(Date.now() - 86_400_000) });
      const filtered = searchQuery(parsedFiltered, viewable);
      expect(
        uses(await explain(filtered.sql, filtered.params), /^Bitmap Index Scan$/, 'Message_searchVector_index'),
        text,
      ).toBe(true);
      for (const bucket of searchBuckets(parsed)) {
        const b = searchBucketQuery(parsed, viewable, bucket, 26);
        expect(seqScansMessage(await explain(b.sql, b.params))).toBe(false);
      }
    }
  });

  it('mentions read "Message_mentionUserIds_index"', async () => {
    const { sql, params } = mentionsQuery(reader, channels, null, 25);
    expect(uses(await explain(sql, params), /^Bitmap Index Scan$/, 'Message_mentionUserIds_index')).toBe(true);
  });
});
