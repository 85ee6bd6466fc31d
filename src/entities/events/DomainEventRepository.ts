import { EntityRepository } from '@mikro-orm/postgresql';
import { UnknownConsumer, ValidationFailed } from '../../domain/errors';
import { DOMAIN_EVENT_TYPES, type DomainEventType } from '../../domain/events';
import { isSnowflake } from '../../domain/snowflake';
import type { DomainEvent } from './DomainEvent';

export interface DeliveredEvent {
  id: string;
  type: DomainEventType;
  payload: Record<string, unknown>;
  serverId: string | null;
  channelId: string | null;
  userIds: string[] | null;
  createdAt: Date;
}

export interface PollOptions {
  limit?: number;
  types?: DomainEventType[];
  serverId?: string;
}

export interface PruneOptions {
  /** Events older than this are deleted even when a consumer has not read them. Default 7 days. */
  maxAgeMs?: number;
}

/** The channel NOTIFY wakes listeners on; the trigger in the outbox migration sends it. */
export const EVENTS_CHANNEL = 'cryb_domain_events';

const CONSUMER_NAME = /^[A-Za-z0-9_.:-]{1,100}$/;

function consumerName(name: string): string {
  if (typeof name !== 'string' || !CONSUMER_NAME.test(name)) {
    throw new ValidationFailed('consumer', 'must be 1-100 letters, digits or _ . : -');
  }
  return name;
}

/**
 * The outbox's reading side. Delivery is at least once and in commit-safe order (see DomainEvent):
 * poll returns events after the consumer's cursor and records the highest id it handed out
 * ("deliveredUpTo"); ack moves the cursor forward, never past that. A consumer is registered before
 * it polls or acks: a mistyped name must not silently start a new stream, nor an ack skip events
 * (which prune would then delete) that nobody received.
 */
export class DomainEventRepository extends EntityRepository<DomainEvent> {
  /** Registers a consumer (idempotently). `from: 'latest'` starts it after the events that exist now. */
  async registerConsumer(name: string, options: { from?: 'beginning' | 'latest' } = {}): Promise<void> {
    const start = options.from === 'latest' ? `(pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 20) - 1` : '0';
    await this.em.execute(
      `insert into "EventConsumer" ("name", "cursor", "deliveredUpTo") values (?, ${start}, ${start})
        on conflict ("name") do nothing`,
      [consumerName(name)],
    );
  }

  async poll(consumer: string, options: PollOptions = {}): Promise<DeliveredEvent[]> {
    const limit = options.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new ValidationFailed('limit', 'must be 1-10000');
    const types = options.types;
    if (types && (!Array.isArray(types) || types.some((t) => !DOMAIN_EVENT_TYPES.includes(t)))) {
      throw new ValidationFailed('types', 'must list known event types');
    }
    const filters: string[] = [];
    const params: unknown[] = [consumerName(consumer)];
    if (types?.length) {
      filters.push('and e."type" = any(array[?]::text[])');
      params.push(types);
    }
    if (options.serverId !== undefined && !isSnowflake(options.serverId))
      throw new ValidationFailed('serverId', 'must be a snowflake id');
    if (options.serverId) {
      filters.push('and e."serverId" = ?');
      params.push(options.serverId);
    }
    params.push(limit, params[0]);
    // One statement: the batch after the cursor, and "deliveredUpTo" raised to its last id (atomic
    // with greatest(), so concurrent pollers never lower it). `known` tells an unknown name apart
    // from an empty batch.
    const rows: (DeliveredEvent & { known: boolean })[] = await this.em.execute(
      `with c as (select "cursor" from "EventConsumer" where "name" = ?),
            batch as (
              select e."id", e."type", e."payload", e."serverId", e."channelId", e."userIds", e."createdAt"
                from "DomainEvent" e
               where e."id" > (select "cursor" from c)
                 and e."id" < (pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 20)
                 ${filters.join(' ')}
               order by e."id"
               limit ?),
            delivered as (
              update "EventConsumer" set "deliveredUpTo" = greatest("deliveredUpTo", (select max("id") from batch))
               where "name" = ? and exists (select 1 from batch)
              returning 1)
       select exists (select 1 from c) as "known", b."id"::text as "id", b."type", b."payload",
         b."serverId"::text as "serverId",
              b."channelId"::text as "channelId", b."userIds"::text[] as "userIds", b."createdAt"
         from (select 1) one left join batch b on true
        order by b."id"`,
      params,
    );
    if (!rows[0]?.known) throw new UnknownConsumer(consumer);
    return rows.filter((r) => r.id !== null).map(({ known: _known, ...event }) => event);
  }

  /**
   * Moves the consumer's cursor to `lastId`: only forward (an older id is a no-op, as at-least-once
   * redelivery acks are), and never past the last event poll delivered to it (ValidationFailed).
   * The UPDATE's own WHERE decides, so PostgreSQL re-checks it on the newest row version when a
   * concurrent poll or ack got there first; the check constraint is the backstop.
   */
  async ack(consumer: string, lastId: string): Promise<void> {
    if (typeof lastId !== 'string' || !/^[0-9]{1,19}$/.test(lastId))
      throw new ValidationFailed('lastId', 'must be an event id');
    const name = consumerName(consumer);
    for (;;) {
      const moved: unknown[] = await this.em.execute(
        `update "EventConsumer" set "cursor" = ?::bigint, "updatedAt" = now()
          where "name" = ? and "cursor" < ?::bigint and ?::bigint <= "deliveredUpTo"
          returning 1`,
        [lastId, name, lastId, lastId],
      );
      if (moved.length > 0) return;
      const rows: { cursor: string; deliveredUpTo: string }[] = await this.em.execute(
        `select "cursor"::text as "cursor", "deliveredUpTo"::text as "deliveredUpTo" from "EventConsumer"
          where "name" = ?`,
        [name],
      );
      if (rows.length === 0) throw new UnknownConsumer(name);
      const { cursor, deliveredUpTo } = rows[0];
      if (BigInt(lastId) > BigInt(deliveredUpTo)) {
        throw new ValidationFailed('lastId', `is past the last event delivered to consumer "${name}"`, {
          deliveredUpTo,
        });
      }
      if (BigInt(cursor) >= BigInt(lastId)) return;
      // A poll delivered lastId between the two statements: the update now applies. Terminates, as
      // deliveredUpTo and the cursor only grow.
    }
  }

  async cursorOf(consumer: string): Promise<string | null> {
    const rows: { cursor: string }[] = await this.em.execute(
      `select "cursor"::text as "cursor" from "EventConsumer" where "name" = ?`,
      [consumerName(consumer)],
    );
    return rows[0]?.cursor ?? null;
  }

  async removeConsumer(consumer: string): Promise<void> {
    await this.em.execute(`delete from "EventConsumer" where "name" = ?`, [consumerName(consumer)]);
  }

  /**
   * Deletes events every registered consumer has acknowledged, and events older than maxAge
   * whoever has read them. Returns how many were deleted. Safe to run from cron.
   */
  async prune(options: PruneOptions = {}): Promise<number> {
    const maxAgeMs = options.maxAgeMs ?? 7 * 24 * 3600 * 1000;
    if (!Number.isFinite(maxAgeMs) || maxAgeMs < 0)
      throw new ValidationFailed('maxAgeMs', 'must be a non-negative number');
    const rows: { deleted: string }[] = await this.em.execute(
      `with done as (select min("cursor") as "cursor" from "EventConsumer"),
            gone as (
              delete from "DomainEvent" e
               where e."createdAt" < now() - (? * interval '1 millisecond')
                  or e."id" <= (select coalesce("cursor", 0) from done)
              returning 1)
       select count(*)::text as deleted from gone`,
      [maxAgeMs],
    );
    return Number(rows[0]?.deleted ?? 0);
  }
}
