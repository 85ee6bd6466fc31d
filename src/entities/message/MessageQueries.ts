import type { EntityManager } from '@mikro-orm/postgresql';
import { MissingPermission, ValidationFailed } from '../../domain/errors';
import { idArg, type IdArg } from '../../domain/identity/ids';
import { missingPermissions } from '../../domain/permissions';
import { compareSnowflakes } from '../../domain/snowflake';
import { MESSAGE_COLUMNS, MESSAGE_JOINS, type MessageRow, type MessageView, messageViews } from './message-views';
import { loadReadAccess, READ_BITS, type ReadSql, readSql, viewableChannelIds } from './read-access';

export type { AttachmentView, MessageAuthorView, MessageView, ReactionView, ThreadSummaryView } from './message-views';

export const HISTORY_LIMITS = { min: 1, max: 100, default: 50 } as const;

/** At most one cursor; none gives the newest messages. */
export interface HistoryOptions {
  /** Messages older than this id. */
  before?: IdArg;
  /** Messages newer than this id: the oldest `limit` of them, still returned newest first. */
  after?: IdArg;
  /**
   * The message with this id (when it exists) and older ones (half the limit, rounded up), plus
   * newer ones (the other half).
   */
  around?: IdArg;
  /** 1-100, default 50. */
  limit?: number;
}

export type HistoryCursor = { kind: 'latest' } | { kind: 'before' | 'after' | 'around'; id: string };

function integerIn(field: string, value: unknown, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ValidationFailed(field, `must be an integer from ${min} to ${max}`, { min, max });
  }
  return value;
}

/** Validates history options: one cursor at most, a snowflake; limit 1-100. */
export function parseHistoryOptions(options: unknown): { cursor: HistoryCursor; limit: number } {
  if (options === undefined) return { cursor: { kind: 'latest' }, limit: HISTORY_LIMITS.default };
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new ValidationFailed('options', 'must be an object');
  const o = options as HistoryOptions;
  const limit = integerIn('limit', o.limit, HISTORY_LIMITS.min, HISTORY_LIMITS.max, HISTORY_LIMITS.default);
  const given = (['before', 'after', 'around'] as const).filter((k) => o[k] !== undefined);
  if (given.length > 1) throw new ValidationFailed('options', 'give at most one of before, after, around', { given });
  if (given.length === 0) return { cursor: { kind: 'latest' }, limit };
  const kind = given[0];
  return { cursor: { kind, id: idArg(o[kind], kind) }, limit };
}

// The channel is a one-value range, not an equality, on purpose: with `"channelId" = ?` PostgreSQL
// drops the channel from the ordering and may walk the primary key backward, filtering out other
// channels' rows (for a quiet channel: every message sent anywhere since its last one). Ordered by
// ("channelId", id), only "Message_channelId_id_index" gives the order, and reads just the page.
const page = (where: string, order: 'asc' | 'desc') =>
  `select ${MESSAGE_COLUMNS}
  from "Message" m ${MESSAGE_JOINS}
 where m."channelId" >= ? and m."channelId" <= ?${where} order by m."channelId" ${order}, m.id ${order} limit ?`;

/**
 * The one statement a history page runs, keyset on ("channelId", id) so it reads exactly the page
 * from "Message_channelId_id_index". `around` is two such ranges in one statement.
 */
export function historyQuery(
  channelId: string,
  cursor: HistoryCursor,
  limit: number,
): { sql: string; params: unknown[] } {
  const c = [channelId, channelId];
  switch (cursor.kind) {
    case 'latest':
      return { sql: page('', 'desc'), params: [...c, limit] };
    case 'before':
      return { sql: page(' and m.id < ?', 'desc'), params: [...c, cursor.id, limit] };
    case 'after':
      return { sql: page(' and m.id > ?', 'asc'), params: [...c, cursor.id, limit] };
    case 'around': {
      const older = Math.ceil(limit / 2);
      return {
        sql: `(${page(' and m.id <= ?', 'desc')}) union all (${page(' and m.id > ?', 'asc')})`,
        params: [...c, cursor.id, older, ...c, cursor.id, limit - older],
      };
    }
  }
}

function requireRead(permissions: bigint, channelId: string): void {
  const missing = missingPermissions(permissions, READ_BITS);
  if (missing.length > 0) throw new MissingPermission(missing, { channelId });
}

/**
 * A page of a channel's history, newest first, as plain views: authors joined, reactions (with the
 * viewer's own), attachments and embeds in one query each for the page. Needs VIEW_CHANNEL and
 * READ_MESSAGE_HISTORY (MissingPermission otherwise); NotFound, NotATextChannel, NotAMember or
 * NotARecipient as the channel's access says. Reads go to a replica when one is configured and the
 * EntityManager is not in a transaction: a page may lag the primary by the replication delay.
 */
export function history(
  em: EntityManager,
  viewer: IdArg,
  channel: IdArg,
  options?: HistoryOptions,
): Promise<MessageView[]> {
  return historyOn(readSql(em), viewer, channel, options);
}

/** `history` on any SQL runner (the benchmark runs it through raw pg with the same statements). */
export async function historyOn(
  run: ReadSql,
  viewer: IdArg,
  channel: IdArg,
  options?: HistoryOptions,
): Promise<MessageView[]> {
  const viewerId = idArg(viewer, 'viewer');
  const channelId = idArg(channel, 'channel');
  const { cursor, limit } = parseHistoryOptions(options);
  const access = await loadReadAccess(run, channelId, viewerId);
  requireRead(access.permissions, channelId);
  const { sql, params } = historyQuery(channelId, cursor, limit);
  const rows = await run<MessageRow>(sql, params);
  if (cursor.kind !== 'latest' && cursor.kind !== 'before') rows.sort((a, b) => compareSnowflakes(b.id, a.id));
  return messageViews(run, rows, viewerId);
}

export const MENTIONS_LIMITS = { min: 1, max: 100, default: 25 } as const;

export interface MentionsOptions {
  before?: IdArg;
  /** 1-100, default 25. */
  limit?: number;
  /** Only this server's channels. */
  serverId?: IdArg;
}

/** The statement `mentionsOf` runs (GIN "Message_mentionUserIds_index", viewable channels only). */
export function mentionsQuery(
  userId: string,
  channelIds: string[],
  before: string | null,
  limit: number,
): { sql: string; params: unknown[] } {
  return {
    sql: `select ${MESSAGE_COLUMNS}
  from "Message" m ${MESSAGE_JOINS}
 where m."mentionUserIds" @> array[?]::bigint[] and m."channelId" =
   any(array[?]::bigint[])${before ? ' and m.id < ?' : ''}
 order by m.id desc limit ?`,
    params: before ? [[userId], channelIds, before, limit] : [[userId], channelIds, limit],
  };
}

/** Recent messages that mention `user` by id, newest first, in channels the user can read. */
export async function mentionsOf(
  em: EntityManager,
  user: IdArg,
  options: MentionsOptions = {},
): Promise<MessageView[]> {
  const userId = idArg(user, 'user');
  if (typeof options !== 'object' || options === null) throw new ValidationFailed('options', 'must be an object');
  const limit = integerIn('limit', options.limit, MENTIONS_LIMITS.min, MENTIONS_LIMITS.max, MENTIONS_LIMITS.default);
  const before = options.before === undefined ? null : idArg(options.before, 'before');
  const serverId = options.serverId === undefined ? undefined : idArg(options.serverId, 'serverId');
  const run = readSql(em);
  const channels = await viewableChannelIds(run, userId, { serverId });
  if (channels.length === 0) return [];
  const { sql, params } = mentionsQuery(userId, channels, before, limit);
  return messageViews(run, await run<MessageRow>(sql, params), userId);
}
