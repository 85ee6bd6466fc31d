import {
  helper,
  type EntityManager,
  type EventSubscriber,
  type FlushEventArgs,
  type TransactionEventArgs,
  type UnitOfWork,
} from '@mikro-orm/core';
import type { SqlStatement } from './statements';
import { inRecordingOrder, type RecordedEvent, restoreRecordedEvents, takeRecordedEvents } from '../domain/events';

/** Events taken from one aggregate by a flush, and the aggregate's persisted state as that flush began. */
interface Taken {
  entity: object;
  events: RecordedEvent[];
  originalData: unknown;
}

interface FlushInFlight {
  taken: Taken[];
  events: RecordedEvent[];
  written: boolean;
}

const ROWS_PER_INSERT = 500;
const DIGITS = /^[0-9]{1,20}$/;

/** A PostgreSQL bigint[] literal; ids are checked to be digits, so nothing can be injected. */
function bigintArray(ids: readonly string[] | null | undefined): string | null {
  if (!ids?.length) return null;
  for (const id of ids)
    if (!DIGITS.test(id)) throw new TypeError(`event recipient ${JSON.stringify(id)} is not a snowflake`);
  return `{${ids.join(',')}}`;
}

/** The outbox INSERT of these events (at most ROWS_PER_INSERT of them); the only SQL that writes DomainEvent rows. */
export function outboxInsert(events: readonly RecordedEvent[]): SqlStatement {
  const params: unknown[] = [];
  const values = events.map((event) => {
    params.push(
      event.type,
      JSON.stringify(event.payload),
      event.scope.serverId ?? null,
      event.scope.channelId ?? null,
      bigintArray(event.scope.userIds),
    );
    return '(?, ?::jsonb, ?::bigint, ?::bigint, ?::bigint[])';
  });
  return {
    sql: `insert into "DomainEvent" ("type", "payload", "serverId", "channelId", "userIds")
      values ${values.join(', ')}`,
    params,
  };
}

/**
 * One multi-row INSERT into the outbox on the flush's own transaction. Rows are written with raw
 * SQL rather than as ORM change sets: the writer never reads them back, and a change set with a
 * database-assigned key cost about three times as much per flush (measured in bench/events-overhead).
 */
async function insertEvents(em: EntityManager, transaction: unknown, events: readonly RecordedEvent[]): Promise<void> {
  const connection = em.getConnection('write');
  for (let start = 0; start < events.length; start += ROWS_PER_INSERT) {
    const { sql, params } = outboxInsert(events.slice(start, start + ROWS_PER_INSERT));
    await connection.execute(sql, params, 'run', transaction);
  }
}

/**
 * Writes the events aggregates recorded to the outbox inside the transaction that writes their
 * change, so one commit carries both or neither. This module is the only place events reach the
 * database: the send and voice write theirs with `outboxInsert` inside their one write statement.
 *
 * - A flush inside a transaction (em.transactional, transact) writes its events at once, on that
 *   transaction (or savepoint): a later rollback takes them away with the change.
 * - A flush that opens its own transaction writes them just before that transaction commits.
 *
 * A flush that fails hands its events back: if the aggregate's change was not written either (the ORM
 * still sees it as pending), the next flush that writes the change writes its events too. Without
 * that, code that repairs a failed unit of work and flushes again (or a retry whose domain method
 * finds nothing left to record) would commit the change without its event.
 */
export class DomainEventRecorder implements EventSubscriber {
  /** What each aggregate's last flush took; cleared when that flush succeeds. */
  private readonly pending = new WeakMap<object, Taken>();
  /** Per unit of work: what its flush in flight took, and whether the rows are written yet. */
  private readonly flushes = new WeakMap<UnitOfWork, FlushInFlight>();

  async onFlush({ uow, em }: FlushEventArgs): Promise<void> {
    // A record left from an earlier flush of this unit of work means that flush failed.
    this.flushes.delete(uow);
    const sources = new Set<object>();
    for (const changeSet of uow.getChangeSets()) sources.add(changeSet.entity);
    // An aggregate may record an event without a column change of its own (a removal, say).
    for (const entity of uow.getIdentityMap()) sources.add(entity);

    const taken: Taken[] = [];
    const events: RecordedEvent[] = [];
    for (const entity of sources) {
      this.restoreAfterFailedFlush(entity);
      const recorded = takeRecordedEvents(entity);
      if (recorded.length === 0) continue;
      taken.push({ entity, events: recorded, originalData: helper(entity).__originalEntityData });
      events.push(...recorded);
    }
    if (events.length === 0) return;

    const flush: FlushInFlight = { taken, events: inRecordingOrder(events), written: false };
    for (const t of taken) this.pending.set(t.entity, t);
    this.flushes.set(uow, flush);
    if (em.isInTransaction()) {
      await insertEvents(em, em.getTransactionContext(), flush.events);
      flush.written = true;
    }
  }

  /** The flush opened its own transaction: write its events on it, just before it commits. */
  async beforeTransactionCommit({ uow, em, transaction }: TransactionEventArgs): Promise<void> {
    if (!uow) return;
    const flush = this.flushes.get(uow);
    if (!flush || flush.written) return;
    await insertEvents(em, transaction, flush.events);
    flush.written = true;
  }

  async afterFlush({ uow }: FlushEventArgs): Promise<void> {
    const flush = this.flushes.get(uow);
    if (!flush) return;
    this.flushes.delete(uow);
    for (const t of flush.taken) if (this.pending.get(t.entity) === t) this.pending.delete(t.entity);
  }

  /**
   * A flush that took this aggregate's events never reached afterFlush: it failed. Give the events
   * back when the ORM still holds the aggregate's change as unwritten (its original data is the one
   * that flush started from). When the ORM treats the change as written (it was sent before the
   * failure, or the entity was refreshed or removed since), the events go with it.
   */
  private restoreAfterFailedFlush(entity: object): void {
    const failed = this.pending.get(entity);
    if (!failed) return;
    this.pending.delete(entity);
    if (helper(entity).__originalEntityData === failed.originalData) restoreRecordedEvents(entity, failed.events);
  }
}
