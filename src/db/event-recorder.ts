import { helper, type EventSubscriber, type FlushEventArgs, type UnitOfWork } from '@mikro-orm/core';
import { inRecordingOrder, type RecordedEvent, restoreRecordedEvents, takeRecordedEvents } from '../domain/events';
import { DomainEvent } from '../entities/events/DomainEvent';

/** Events taken from one aggregate by a flush, and the aggregate's persisted state as that flush began. */
interface Taken {
  entity: object;
  events: RecordedEvent[];
  originalData: unknown;
}

/**
 * Turns the events aggregates recorded into outbox rows inside the flush that writes their change,
 * so one transaction commits both or neither. This is the only place events reach the database.
 *
 * A flush that fails hands its events back: if the aggregate's change was not written either (the ORM
 * still sees it as pending), the next flush that writes the change writes its events too. Without
 * that, code that repairs a failed unit of work and flushes again (or a retry whose domain method
 * finds nothing left to record) would commit the change without its event.
 */
export class DomainEventRecorder implements EventSubscriber {
  /** What each aggregate's last flush took; cleared when that flush succeeds. */
  private readonly pending = new WeakMap<object, Taken>();
  /** Per unit of work in flight: what its flush took, and the outbox rows it created. */
  private readonly flushes = new WeakMap<UnitOfWork, { taken: Taken[]; rows: DomainEvent[] }>();

  async onFlush({ uow }: FlushEventArgs): Promise<void> {
    const failed = this.flushes.get(uow);
    if (failed) {
      // The previous flush of this unit of work failed; rows it inserted before failing were rolled back.
      this.flushes.delete(uow);
      for (const row of failed.rows) uow.unsetIdentity(row);
    }
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

    const rows = inRecordingOrder(events).map((event) => new DomainEvent(event.type, event.payload, event.scope));
    for (const row of rows) uow.computeChangeSet(row);
    for (const t of taken) this.pending.set(t.entity, t);
    this.flushes.set(uow, { taken, rows });
  }

  async afterFlush({ uow }: FlushEventArgs): Promise<void> {
    const flush = this.flushes.get(uow);
    if (!flush) return;
    this.flushes.delete(uow);
    for (const t of flush.taken) if (this.pending.get(t.entity) === t) this.pending.delete(t.entity);
    // Outbox rows are write-only for the writer: keeping them managed would grow the identity map
    // and make every later flush of this EntityManager compare them again.
    for (const row of flush.rows) uow.unsetIdentity(row);
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
