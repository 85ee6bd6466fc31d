/**
 * Recording analytics inside the operations that cause them.
 *
 * Contract of every `record*` function taking `tx`: call it inside the caller's unit of work
 * (`transact(em, async (tx) => ...)`), with that transaction's EntityManager. The row is persisted
 * on `tx` and written by the same flush and transaction as the operation itself, so a rolled-back
 * send or voice leave leaves no analytics row, and a committed one always has its row. Nothing here
 * flushes, queries or locks: recording adds one INSERT to the flush (or the statement) it joins.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { ValidationFailed } from '../../domain/errors';
import type { SqlStatement } from '../../db/statements';
import { MessageAnalytics } from './MessageAnalytics';
import { SystemMetrics } from './SystemMetrics';
import type { VoiceSession } from '../voice/VoiceSession';
import { VoiceAnalytics } from './VoiceAnalytics';

export interface MessageSent {
  /** null for direct and group messages. */
  serverId: string | null;
  channelId: string;
  userId: string;
  /** Characters of the content (attachments and embeds not counted). */
  characters: number;
  at: Date;
}

/** One MessageAnalytics row (messageCount 1) for a message sent; see the contract above. */
export function recordMessageSent(tx: EntityManager, sent: MessageSent): MessageAnalytics {
  const row = new MessageAnalytics({
    serverId: sent.serverId,
    channelId: sent.channelId,
    userId: sent.userId,
    characterCount: sent.characters,
    timestamp: sent.at,
  });
  tx.persist(row);
  return row;
}

/**
 * The same row as recordMessageSent, as an INSERT for the caller to send within its own statement:
 * the message send writes it in the statement that moves the channel's lastMessageId, a round trip
 * and a change set fewer. The contract is the same: inside the operation's transaction.
 */
export function messageSentInsert(sent: MessageSent): SqlStatement {
  const row = new MessageAnalytics({
    serverId: sent.serverId,
    channelId: sent.channelId,
    userId: sent.userId,
    characterCount: sent.characters,
    timestamp: sent.at,
  });
  return {
    sql: `insert into "MessageAnalytics" ("timestamp", "id", "serverId", "channelId", "userId", "messageCount",
      "characterCount")
          values (?::timestamptz, ?::bigint, ?::bigint, ?::bigint, ?::bigint, ?::int, ?::int)`,
    params: [row.timestamp, row.id, row.serverId, row.channelId, row.userId, row.messageCount, row.characterCount],
  };
}

export interface VoiceSessionClosed {
  /** The VoiceSession's id: a session is counted once. */
  sessionId: string;
  serverId: string;
  channelId: string;
  userId: string;
  durationSeconds: number;
  endedAt: Date;
}

/** One VoiceAnalytics row for a closed voice session; see the contract above. */
export function recordVoiceSession(tx: EntityManager, closed: VoiceSessionClosed): VoiceAnalytics {
  const row = new VoiceAnalytics({
    id: closed.sessionId,
    serverId: closed.serverId,
    channelId: closed.channelId,
    userId: closed.userId,
    sessionDuration: closed.durationSeconds,
    timestamp: closed.endedAt,
  });
  tx.persist(row);
  return row;
}

/**
 * The VoiceAnalytics rows of sessions closed by one raw UPDATE (the stale-session sweeper): wrap the
 * UPDATE ... RETURNING in this CTE so both happen in one statement. The UPDATE must return
 * "id", "serverId", "channelId", "userId", "durationSeconds", "endedAt".
 */
export function recordClosedSessionsSql(updateReturning: string): string {
  return `with closed as (${updateReturning})
    insert into "VoiceAnalytics" ("timestamp", "id", "serverId", "channelId", "userId", "sessionDuration")
    select "endedAt", "id", "serverId", "channelId", "userId", "durationSeconds" from closed
    returning "id"`;
}

/** What the Operations health report measures. */
export interface SystemMetricsSample {
  databaseSizeBytes: number | bigint | string;
  connections: number;
  cacheHitRatio: number | null;
  transactionsPerSecond: number | null;
  at: Date;
}

/** Writes one SystemMetrics row now (its own statement; inside a transaction when `em` is in one). */
export async function recordSystemMetrics(em: EntityManager, metrics: SystemMetricsSample): Promise<void> {
  const size = String(metrics.databaseSizeBytes);
  if (!/^\d+$/.test(size)) throw new ValidationFailed('databaseSizeBytes', 'must be a non-negative integer');
  if (!Number.isInteger(metrics.connections) || metrics.connections < 0)
    throw new ValidationFailed('connections', 'must be a non-negative integer');
  if (!(metrics.at instanceof Date) || Number.isNaN(metrics.at.getTime()))
    throw new ValidationFailed('at', 'must be a date');
  const row = new SystemMetrics({
    databaseSizeBytes: size,
    connections: metrics.connections,
    cacheHitRatio: metrics.cacheHitRatio,
    transactionsPerSecond: metrics.transactionsPerSecond,
    timestamp: metrics.at,
  });
  await em.insert(SystemMetrics, row);
}

/** `recordVoiceSession` for a VoiceSession just closed (`session.close(at)`) in `tx`'s unit of work. */
export function recordSessionClosed(tx: EntityManager, session: VoiceSession): VoiceAnalytics | null {
  if (session.endedAt === null || session.durationSeconds === null) return null;
  return recordVoiceSession(tx, {
    sessionId: session.id,
    serverId: session.server.id,
    channelId: session.channelId,
    userId: session.user.id,
    durationSeconds: session.durationSeconds,
    endedAt: session.endedAt,
  });
}
