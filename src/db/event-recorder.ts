import type { EventSubscriber, FlushEventArgs } from '@mikro-orm/core';
import { takeRecordedEvents } from '../domain/events';
import { DomainEvent } from '../entities/events/DomainEvent';

/**
 * Turns the events aggregates recorded into outbox rows inside the flush that writes their change,
 * so one transaction commits both or neither. This is the only place events reach the database.
 */
export class DomainEventRecorder implements EventSubscriber {
  async onFlush({ uow }: FlushEventArgs): Promise<void> {
    const sources = new Set<object>();
    for (const changeSet of uow.getChangeSets()) sources.add(changeSet.entity);
    // An aggregate may record an event without a column change of its own (a removal, say).
    for (const entity of uow.getIdentityMap()) sources.add(entity);
    for (const entity of sources) {
      for (const event of takeRecordedEvents(entity)) {
        uow.computeChangeSet(new DomainEvent(event.type, event.payload, event.scope));
      }
    }
  }
}
