import type { EntityManager } from '@mikro-orm/postgresql';
import { ValidationFailed } from '../../domain/errors';
import { idArg, type IdArg } from '../../domain/identity/ids';
import { snowflakeAt } from '../../domain/snowflake';
import { MESSAGE_COLUMNS, MESSAGE_JOINS, type MessageRow, type MessageView, messageViews } from './message-views';
import { type ReadSql, readSql, viewableChannelIds } from './read-access';

export const SEARCH_LIMITS = { textLength: 1024, min: 1, max: 25, default: 25, maxOffset: 5000, maxChannelIds: 500 } as const;

export type SearchHas = 'attachment' | 'embed' | 'link';
const HAS_SQL: Record<SearchHas, string> = { attachment: 'm."attachmentCount" > 0', embed: 'm."embedCount" > 0', link: 'm."hasLink"' };

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
  /** Best first (ts_rank_cd), newest first among equal ranks. */
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
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw new ValidationFailed(field, `must be an integer from ${min} to ${max}`, { min, max });
  return value;
}

function dateArg(field: string, value: unknown): Date | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw new ValidationFailed(field, 'must be a valid Date');
  return value;
}

/**
 * Search text hygiene: PostgreSQL text cannot hold NUL, and a bounded length bounds the parse and
 * the index probes. websearch_to_tsquery itself never raises on syntax, so nothing else is escaped:
 * the text is a bound value, never SQL.
 */
export function cleanSearchText(text: string): string {
  // eslint-disable-next-line no-control-regex
  const chars = [...text.replace(/\u0000/g, '')];
  const capped = chars.length > SEARCH_LIMITS.textLength ? chars.slice(0, SEARCH_LIMITS.textLength).join('') : chars.join('');
  // A lone surrogate (from cutting or from the caller) is not valid UTF-8.
  return capped.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '');
}

export function parseSearchQuery(query: unknown): ParsedSearch {
  if (typeof query !== 'object' || query === null || Array.isArray(query)) throw new ValidationFailed('query', 'must be an object');
  const q = query as SearchQuery;
  if (typeof q.text !== 'string') throw new ValidationFailed('text', 'must be a string');
  const out: ParsedSearch = { text: cleanSearchText(q.text), has: [], limit: intIn('limit', q.limit, SEARCH_LIMITS.min, SEARCH_LIMITS.max, SEARCH_LIMITS.default), offset: intIn('offset', q.offset, 0, SEARCH_LIMITS.maxOffset, 0) };
  if (q.serverId !== undefined) out.serverId = idArg(q.serverId, 'serverId');
  if (q.channelIds !== undefined) {
    if (!Array.isArray(q.channelIds) || q.channelIds.length > SEARCH_LIMITS.maxChannelIds) throw new ValidationFailed('channelIds', `must be an array of at most ${SEARCH_LIMITS.maxChannelIds} channels`, { max: SEARCH_LIMITS.maxChannelIds });
    out.channelIds = q.channelIds.map((c) => idArg(c, 'channelIds'));
  }
  if (q.authorId !== undefined) out.authorId = idArg(q.authorId, 'authorId');
  if (q.mentions !== undefined) out.mentions = idArg(q.mentions, 'mentions');
  if (q.has !== undefined) {
    if (!Array.isArray(q.has) || q.has.some((h) => !(h in HAS_SQL))) throw new ValidationFailed('has', 'must be a list of attachment, embed, link');
    out.has = [...new Set(q.has)];
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

/**
 * The statement a search runs. The GIN index on "searchVector" finds the matches (Bitmap Index
 * Scan), the filters and the viewable channel list cut them, and only the ids and ranks are sorted
 * before the page is joined to authors and threads.
 */
export function searchQuery(parsed: ParsedSearch, channelIds: string[]): { sql: string; params: unknown[] } {
  const where: string[] = [`m."searchVector" @@ websearch_to_tsquery('english', ?)`, `m."channelId" = any(array[?]::bigint[])`];
  const params: unknown[] = [parsed.text, parsed.text, channelIds];
  if (parsed.authorId) (where.push('m."authorId" = ?'), params.push(parsed.authorId));
  if (parsed.mentions) (where.push('m."mentionUserIds" @> array[?]::bigint[]'), params.push([parsed.mentions]));
  for (const h of parsed.has) where.push(HAS_SQL[h]);
  if (parsed.pinned !== undefined) where.push(parsed.pinned ? 'm.pinned' : 'not m.pinned');
  if (parsed.minId) (where.push('m.id >= ?'), params.push(parsed.minId));
  if (parsed.maxId) (where.push('m.id < ?'), params.push(parsed.maxId));
  params.push(parsed.limit + 1, parsed.offset);
  const sql = `with hits as (
  select m.id, ts_rank_cd(m."searchVector", websearch_to_tsquery('english', ?)) as rank
    from "Message" m
   where ${where.join('\n     and ')}
   order by rank desc, m.id desc limit ? offset ?)
select ${MESSAGE_COLUMNS}, h.rank
  from hits h join "Message" m on m.id = h.id ${MESSAGE_JOINS}
 order by h.rank desc, m.id desc`;
  return { sql, params };
}

/**
 * Full-text search over the messages `searcher` can read (VIEW_CHANNEL and READ_MESSAGE_HISTORY,
 * threads by their parent and the private-thread rule, the user's DMs), ranked. Any text is safe:
 * an empty or stopword-only query finds nothing; channelIds the searcher cannot read are ignored;
 * `serverId` of a server the searcher is not in raises NotAMember.
 */
export function search(em: EntityManager, searcher: IdArg, query: SearchQuery): Promise<SearchResult> {
  return searchOn(readSql(em), searcher, query);
}

/** `search` on any SQL runner (the benchmark runs it through raw pg with the same statements). */
export async function searchOn(run: ReadSql, searcher: IdArg, query: SearchQuery): Promise<SearchResult> {
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
  const { sql, params } = searchQuery(parsed, channels);
  const rows = await run<MessageRow & { rank: number }>(sql, params);
  const hasMore = rows.length > parsed.limit;
  const pageRows = rows.slice(0, parsed.limit);
  const views = await messageViews(run, pageRows, userId);
  return {
    messages: views.map((v, i) => ({ ...v, rank: Number(pageRows[i].rank) })),
    hasMore,
    nextOffset: hasMore ? parsed.offset + parsed.limit : null,
  };
}
