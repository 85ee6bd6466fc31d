/**
 * Domain events, Gateway-style. Aggregates record them while they change; the persistence layer
 * writes them to the outbox in the same transaction as the change (see src/db/event-recorder.ts).
 */
export const DOMAIN_EVENT_TYPES = [
  'USER_UPDATE',
  'PRESENCE_UPDATE',
  'RELATIONSHIP_ADD',
  'RELATIONSHIP_REMOVE',
  'GUILD_CREATE',
  'GUILD_UPDATE',
  'GUILD_DELETE',
  'GUILD_MEMBER_ADD',
  'GUILD_MEMBER_UPDATE',
  'GUILD_MEMBER_REMOVE',
  'GUILD_BAN_ADD',
  'GUILD_BAN_REMOVE',
  'GUILD_ROLE_CREATE',
  'GUILD_ROLE_UPDATE',
  'GUILD_ROLE_DELETE',
  'CHANNEL_CREATE',
  'CHANNEL_UPDATE',
  'CHANNEL_DELETE',
  'CHANNEL_PINS_UPDATE',
  'MESSAGE_CREATE',
  'MESSAGE_UPDATE',
  'MESSAGE_DELETE',
  'MESSAGE_DELETE_BULK',
  'MESSAGE_REACTION_ADD',
  'MESSAGE_REACTION_REMOVE',
  'MESSAGE_REACTION_REMOVE_ALL',
  'THREAD_CREATE',
  'THREAD_UPDATE',
  'THREAD_DELETE',
  'THREAD_MEMBERS_UPDATE',
  'VOICE_STATE_UPDATE',
  'INVITE_CREATE',
  'INVITE_DELETE',
  'GUILD_EMOJIS_UPDATE',
  'GUILD_STICKERS_UPDATE',
  'GUILD_AUDIT_LOG_ENTRY_CREATE',
] as const;

export type DomainEventType = (typeof DOMAIN_EVENT_TYPES)[number];

/** Who should hear of an event: a server, a channel, and/or named users (DMs, relationships). */
export interface EventScope {
  serverId?: string | null;
  channelId?: string | null;
  userIds?: string[] | null;
}

export interface RecordedEvent {
  type: DomainEventType;
  payload: Record<string, unknown>;
  scope: EventScope;
}

const PENDING_EVENTS = Symbol('pendingDomainEvents');

/** A recorded event and when it was recorded, process-wide, so one flush writes events in the order they happened. */
interface PendingEvent extends RecordedEvent {
  readonly order: number;
}

type WithPendingEvents = { [PENDING_EVENTS]?: PendingEvent[] };

let recordingOrder = 0;

/**
 * Base of every aggregate that emits events. The pending list lives under a symbol and is created
 * lazily, because the ORM hydrates entities without running their constructors.
 */
export abstract class AggregateRoot {
  protected recordEvent(type: DomainEventType, payload: Record<string, unknown>, scope: EventScope = {}): void {
    const self = this as WithPendingEvents;
    (self[PENDING_EVENTS] ??= []).push({ type, payload, scope, order: ++recordingOrder });
  }
}

/** Hands over and forgets the events an aggregate recorded since the last call. */
export function takeRecordedEvents(entity: object): RecordedEvent[] {
  const self = entity as WithPendingEvents;
  const pending = self[PENDING_EVENTS];
  if (!pending || pending.length === 0) return [];
  self[PENDING_EVENTS] = [];
  return pending;
}

/**
 * Gives back events taken by `takeRecordedEvents` that were not written after all (their flush
 * failed before it changed the aggregate), ahead of any recorded since. For the persistence layer.
 */
export function restoreRecordedEvents(entity: object, events: readonly RecordedEvent[]): void {
  if (events.length === 0) return;
  const self = entity as WithPendingEvents;
  self[PENDING_EVENTS] = [...(events as PendingEvent[]), ...(self[PENDING_EVENTS] ?? [])];
}

/** Sorts events taken from several aggregates into the order they were recorded in. */
export function inRecordingOrder<T extends RecordedEvent>(events: T[]): T[] {
  return events.sort(
    (a, b) => ((a as unknown as PendingEvent).order ?? 0) - ((b as unknown as PendingEvent).order ?? 0),
  );
}
