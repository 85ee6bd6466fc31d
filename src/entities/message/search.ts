import type { EntityManager } from '@mikro-orm/postgresql';
import { ValidationFailed } from '../../domain/errors';
import { idArg, type IdArg } from '../../domain/identity/ids';
import { snowflakeAt } from '../../domain/snowflake';
import { MESSAGE_COLUMNS, MESSAGE_JOINS, type MessageRow, type MessageView, messageViews } from './message-views';
import { type ReadSql, readSql, viewableChannelIds } from './read-access';

export const SEARCH_LIMITS = {
  textLength: 1024,
  min: 1,
  max: 25,
  default: 25,
  maxOffset: 5000,
  maxChannelIds: 500,
} as const;

export type SearchHas = 'attachment' | 'embed' | 'link';
const HAS_SQL: Record<SearchHas, string> = {
  attachment: 'm."attachmentCount" > 0',
  embed: 'm."embedCount" > 0',
  link: 'm."hasLink"',
};

export interface SearchQuery {
  /** websearch syntax: words, "quoted phrases", `or`, `-excluded`. Any text is accepted. */
  text: string;
  serverId?: IdArg;
  channelIds?: IdArg[];
  authorId?: IdArg;
  /** Messages that mention this user. */
  mentions?: IdArg;
  /** Every kind listed must be present. */
  has?: SearchHas[];
  pinned?: boolean;
  /** Sent before this moment. */
  before?: Date;
  /** Sent at or after this moment. */
  after?: Date;
  /** 1-25, default 25. */
  limit?: number;
  /** 0-5000: skip this many ranked results (pages are `offset += limit`). */
  offset?: number;
}

export interface SearchResult {
  /** Best first (ts_rank_cd), then newest; past SEARCH_RANK_ALL_MAX matches, newest time bucket first. */
  messages: (MessageView & { rank: number })[];
  hasMore: boolean;
  /** The offset of the next page, when there is one. */
  nextOffset: number | null;
}

/** A validated query: ids checked, text cleaned, dates turned into snowflake bounds. */
export interface ParsedSearch {
  text: string;
  serverId?: string;
  channelIds?: string[];
  authorId?: string;
  mentions?: string;
  has: SearchHas[];
  pinned?: boolean;
  minId?: string;
  maxId?: string;
  limit: number;
  offset: number;
}

function intIn(field: string, value: unknown, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new ValidationFailed(field, `must be an integer from ${min} to ${max}`, { min, max });
  return value;
}

function dateArg(field: string, value: unknown): Date | undefined {
  if (value === undefined) return undefined;
  // instanceof alone lets through Object.create(Date.prototype), whose getTime throws a TypeError.
  let time = Number.NaN;
  try {
    time = Date.prototype.getTime.call(value);
  } catch {
    // not a real Date
  }
  if (Number.isNaN(time)) throw new ValidationFailed(field, 'must be a valid Date');
  return new Date(time);
}

/**
 * Search text hygiene: PostgreSQL text cannot hold NUL, and a bounded length bounds the parse and
 * the index probes. websearch_to_tsquery itself never raises on syntax, so nothing else is escaped:
 * the text is a bound value, never SQL.
 */
export function cleanSearchText(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this pattern finds
  const chars = [...text.replace(/\u0000/g, '')];
  const capped =
    chars.length > SEARCH_LIMITS.textLength ? chars.slice(0, SEARCH_LIMITS.textLength).join('') : chars.join('');
  // A lone surrogate (from cutting or from the caller) is not valid UTF-8.
  return capped.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '');
}

const SEARCH_OPTIONS: ReadonlySet<string> = new Set<keyof SearchQuery>([
  'text',
  'serverId',
  'channelIds',
  'authorId',
  'mentions',
  'has',
  'pinned',
  'before',
  'after',
  'limit',
  'offset',
]);
const HAS_KINDS: ReadonlySet<string> = new Set(Object.keys(HAS_SQL));

/**
 * The query's options by own-property lookup, each read once: an inherited value (a polluted
 * Object.prototype, an object made with Object.create) is never an option, and a name that is not
 * an option (a typo, `__proto__` from JSON.parse, `constructor`) is refused rather than ignored.
 */
function ownOptions(query: object): Partial<Record<keyof SearchQuery, unknown>> {
  const out = Object.create(null) as Partial<Record<keyof SearchQuery, unknown>>;
  for (const key of Object.keys(query)) {
    if (!SEARCH_OPTIONS.has(key))
      throw new ValidationFailed(key, 'is not a search option', { allowed: [...SEARCH_OPTIONS] });
    out[key as keyof SearchQuery] = (query as Record<string, unknown>)[key];
  }
  return out;
}

/** A copy of a real array, holes read as undefined; refuses array-likes and over-long lists. */
function listArg(field: string, value: unknown, max: number, message: string): unknown[] {
  if (!Array.isArray(value) || value.length > max) throw new ValidationFailed(field, message, { max });
  return Array.from({ length: value.length }, (_, i) => (Object.hasOwn(value, i) ? (value[i] as unknown) : undefined));
}

export function parseSearchQuery(query: unknown): ParsedSearch {
  if (typeof query !== 'object' || query === null || Array.isArray(query))
    throw new ValidationFailed('query', 'must be an object');
  const q = ownOptions(query);
  if (typeof q.text !== 'string') throw new ValidationFailed('text', 'must be a string');
  // No prototype: an optional field left unset never reads a polluted Object.prototype on its way to SQL.
  const out: ParsedSearch = Object.assign(Object.create(null) as ParsedSearch, {
    text: cleanSearchText(q.text),
    has: [] as SearchHas[],
    limit: intIn('limit', q.limit, SEARCH_LIMITS.min, SEARCH_LIMITS.max, SEARCH_LIMITS.default),
    offset: intIn('offset', q.offset, 0, SEARCH_LIMITS.maxOffset, 0),
  });
  if (q.serverId !== undefined) out.serverId = idArg(q.serverId, 'serverId');
  if (q.channelIds !== undefined) {
    out.channelIds = listArg(
      'channelIds',
      q.channelIds,
      SEARCH_LIMITS.maxChannelIds,
      `must be an array of at most ${SEARCH_LIMITS.maxChannelIds} channels`,
    ).map((c) => idArg(c, 'channelIds'));
  }
  if (q.authorId !== undefined) out.authorId = idArg(q.authorId, 'authorId');
  if (q.mentions !== undefined) out.mentions = idArg(q.mentions, 'mentions');
  if (q.has !== undefined) {
    const kinds = listArg('has', q.has, HAS_KINDS.size * 4, 'must be a list of attachment, embed, link');
    // A Set of the three names, not `in HAS_SQL`: 'toString', 'constructor' and '__proto__' are "in" every object.
    if (!kinds.every((h): h is SearchHas => typeof h === 'string' && HAS_KINDS.has(h)))
      throw new ValidationFailed('has', 'must be a list of attachment, embed, link');
    out.has = [...new Set(kinds)];
  }
  if (q.pinned !== undefined) {
    if (typeof q.pinned !== 'boolean') throw new ValidationFailed('pinned', 'must be a boolean');
    out.pinned = q.pinned;
  }
  const before = dateArg('before', q.before);
  const after = dateArg('after', q.after);
  // Dates become id bounds: the snowflake is the timestamp, so the bounds ride on the id indexes.
  if (after) out.minId = clampId(snowflakeAt(after));
  if (before) out.maxId = clampId(snowflakeAt(before));
  return out;
}

/** Dates before the epoch give negative ids, far-future ones ids past bigint: both are clamped. */
function clampId(id: string): string {
  const n = BigInt(id);
  return n < 0n ? '0' : n > 2n ** 63n - 1n ? (2n ** 63n - 1n).toString() : id;
}

const DAY_MS = 86_400_000;
/** Ages in days (before the end of the current UTC day) where the time buckets of a large search start. */
export const SEARCH_BUCKET_DAYS = [1, 4, 16, 64, 256] as const;
/** Up to this many matches are all ranked together; past it, the search ranks within time buckets. */
export const SEARCH_RANK_ALL_MAX = 250;

/** A slice of time, as snowflake bounds: `lower <= id < upper` (null: unbounded). */
export interface SearchBucket {
  lower: string | null;
  upper: string | null;
}

/**
 * The time buckets a large search walks, newest first, inside the query's own bounds. They are
 * aligned to UTC days, so the pages of one search made on one day see the same buckets.
 */
export function searchBuckets(parsed: Pick<ParsedSearch, 'minId' | 'maxId'>, now: Date = new Date()): SearchBucket[] {
  const endOfDay = Math.floor(now.getTime() / DAY_MS) * DAY_MS + DAY_MS;
  const edges = SEARCH_BUCKET_DAYS.map((days) => clampId(snowflakeAt(new Date(endOfDay - days * DAY_MS))));
  const min = parsed.minId ? BigInt(parsed.minId) : null;
  const max = parsed.maxId ? BigInt(parsed.maxId) : null;
  const out: SearchBucket[] = [];
  let upper: string | null = parsed.maxId ?? null;
  for (const edge of [...edges, null]) {
    let lower = edge;
    if (lower !== null && max !== null && BigInt(lower) >= max) continue; // the bucket is after the query's end
    if (lower !== null && min !== null && BigInt(lower) <= min) lower = null;
    out.push({ lower: lower ?? parsed.minId ?? null, upper });
    if (lower === null) break;
    upper = lower;
  }
  return out;
}

function searchWhere(
  parsed: ParsedSearch,
  channelIds: string[],
  bucket: SearchBucket,
): { where: string; params: unknown[] } {
  const where: string[] = [
    `m."searchVector" @@ websearch_to_tsquery('english', ?)`,
    `m."channelId" = any(array[?]::bigint[])`,
  ];
  const params: unknown[] = [parsed.text, channelIds];
  if (parsed.authorId) {
    where.push('m."authorId" = ?');
    params.push(parsed.authorId);
  }
  if (parsed.mentions) {
    where.push('m."mentionUserIds" @> array[?]::bigint[]');
    params.push([parsed.mentions]);
  }
  for (const h of parsed.has) where.push(HAS_SQL[h]);
  if (parsed.pinned !== undefined) where.push(parsed.pinned ? 'm.pinned' : 'not m.pinned');
  if (bucket.lower) {
    where.push('m.id >= ?');
    params.push(bucket.lower);
  }
  if (bucket.upper) {
    where.push('m.id < ?');
    params.push(bucket.upper);
  }
  return { where: where.join('\n     and '), params };
}

/**
 * The first statement of a search: counts up to SEARCH_RANK_ALL_MAX + 1 matches (the GIN index on
 * "searchVector": Bitmap Index Scan; the filters and viewable channels cut them; only ids, so
 * all-visible pages are not even read), and ranks them only when there are no more than that.
 * Always one row at least, with the count.
 */
export function searchQuery(parsed: ParsedSearch, channelIds: string[]): { sql: string; params: unknown[] } {
  const { where, params } = searchWhere(parsed, channelIds, {
    lower: parsed.minId ?? null,
    upper: parsed.maxId ?? null,
  });
  const sql = `with c as materialized (
  select m.id from "Message" m
   where ${where}
   limit ?),
n as (select count(*)::int as total from c)
select h.id, h.rank, n.total from n left join lateral (
  select m.id::text as id, ts_rank_cd(m."searchVector", websearch_to_tsquery('english', ?)) as rank
    from c join "Message" m on m.id = c.id
   where n.total <= ?
   order by rank desc, m.id desc limit ?) h on true`;
  return {
    sql,
    params: [...params, SEARCH_RANK_ALL_MAX + 1, parsed.text, SEARCH_RANK_ALL_MAX, parsed.offset + parsed.limit + 1],
  };
}

/**
 * One time bucket of a search with more matches than SEARCH_RANK_ALL_MAX: the id range (the
 * snowflake is the time) bounds the rows read, so a common word costs what a bucket holds.
 */
export function searchBucketQuery(
  parsed: ParsedSearch,
  channelIds: string[],
  bucket: SearchBucket,
  limit: number,
): { sql: string; params: unknown[] } {
  const { where, params } = searchWhere(parsed, channelIds, bucket);
  const sql = `select m.id::text as id, ts_rank_cd(m."searchVector", websearch_to_tsquery('english', ?)) as rank
  from "Message" m
 where ${where}
 order by rank desc, m.id desc limit ?`;
  return { sql, params: [parsed.text, ...params, limit] };
}

const PAGE_ROWS_SQL = `select ${MESSAGE_COLUMNS}\n  from "Message" m ${MESSAGE_JOINS}\n
  where m.id = any(array[?]::bigint[])`;

type Hit = { id: string; rank: number };

/** The ranked hits up to `need`: all matches ranked when they are few, else bucket by bucket, newest first. */
async function searchHits(run: ReadSql, parsed: ParsedSearch, channels: string[], now: Date): Promise<Hit[]> {
  const need = parsed.offset + parsed.limit + 1;
  const probe = searchQuery(parsed, channels);
  const all = await run<{ id: string | null; rank: number | null; total: number }>(probe.sql, probe.params);
  if (all[0].total <= SEARCH_RANK_ALL_MAX) return all.filter((h) => h.id !== null) as Hit[];
  const hits: Hit[] = [];
  for (const bucket of searchBuckets(parsed, now)) {
    const { sql, params } = searchBucketQuery(parsed, channels, bucket, need - hits.length);
    hits.push(...(await run<Hit>(sql, params)));
    if (hits.length >= need) break;
  }
  return hits;
}

/**
 * Full-text search over the messages `searcher` can read (VIEW_CHANNEL and READ_MESSAGE_HISTORY,
 * threads by their parent and the private-thread rule, the user's DMs). Up to SEARCH_RANK_ALL_MAX
 * matches are ranked together (ts_rank_cd, then newest); a query matching more ranks within time
 * buckets, newest first (the current UTC day, then 4, 16, 64, 256 days, then older): ranking every
 * match of a common word would read every matching row of the table, a bucket reads only its slice,
 * and chat search users want recent results first. Any text is safe: an empty or stopword-only
 * query finds nothing; channelIds the searcher cannot read are ignored; `serverId` of a server the
 * searcher is not in raises NotAMember.
 */
export function search(em: EntityManager, searcher: IdArg, query: SearchQuery): Promise<SearchResult> {
  return searchOn(readSql(em), searcher, query);
}

/** `search` on any SQL runner (the benchmark runs it through raw pg with the same statements). */
export async function searchOn(
  run: ReadSql,
  searcher: IdArg,
  query: SearchQuery,
  now: Date = new Date(),
): Promise<SearchResult> {
  const userId = idArg(searcher, 'searcher');
  const parsed = parseSearchQuery(query);
  const empty: SearchResult = { messages: [], hasMore: false, nextOffset: null };
  if (parsed.text.trim() === '') return empty;
  let channels = await viewableChannelIds(run, userId, { serverId: parsed.serverId });
  if (parsed.channelIds) {
    const wanted = new Set(parsed.channelIds);
    channels = channels.filter((id) => wanted.has(id));
  }
  if (channels.length === 0) return empty;
  const hits = await searchHits(run, parsed, channels, now);
  const page = hits.slice(parsed.offset, parsed.offset + parsed.limit);
  if (page.length === 0) return empty;
  const rows = await run<MessageRow>(PAGE_ROWS_SQL, [page.map((h) => h.id)]);
  const byId = new Map(rows.map((r) => [r.id, r]));
  // A message deleted between the two statements is left out.
  const found = page.filter((h) => byId.has(h.id));
  const views = await messageViews(
    run,
    found.map((h) => byId.get(h.id)!),
    userId,
  );
  const hasMore = hits.length > parsed.offset + parsed.limit;
  return {
    messages: views.map((v, i) => ({ ...v, rank: Number(found[i].rank) })),
    hasMore,
    nextOffset: hasMore ? parsed.offset + parsed.limit : null,
  };
}
