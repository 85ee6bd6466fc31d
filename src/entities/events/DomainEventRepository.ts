import { EntityRepository } from '@mikro-orm/postgresql';
import { ValidationFailed } from '../../domain/errors';
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
 * poll returns events after the consumer's cursor, ack moves the cursor forward.
 */
export class DomainEventRepository extends EntityRepository<DomainEvent> {
  /** Registers a consumer (idempotently). `from: 'latest'` starts it after the events that exist now. */
  async registerConsumer(name: string, options: { from?: 'beginning' | 'latest' } = {}): Promise<void> {
    const start = options.from === 'latest' ? `(pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 20) - 1` : '0';
    await this.em.execute(
      `insert into "EventConsumer" ("name", "cursor") values (?, ${start}) on conflict ("name") do nothing`,
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
    if (options.serverId !== undefined && !isSnowflake(options.serverId)) throw new ValidationFailed('serverId', 'must be a snowflake id');
    if (options.serverId) {
      filters.push('and e."serverId" = ?');
      params.push(options.serverId);
    }
    params.push(limit);
    const rows: (Omit<DeliveredEvent, 'userIds'> & { userIds: string[] | null })[] = await this.em.execute(
      `select e."id"::text as "id", e."type", e."payload", e."serverId"::text as "serverId", e."channelId"::text as "channelId",
              e."userIds"::text[] as "userIds", e."createdAt"
         from "DomainEvent" e
        where e."id" > coalesce((select c."cursor" from "EventConsumer" c where c."name" = ?), 0)
          and e."id" < (pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 20)
          ${filters.join(' ')}
        order by e."id"
        limit ?`,
      params,
    );
    return rows;
  }

  /** Moves the consumer's cursor to `lastId` (never backwards). */
  async ack(consumer: string, lastId: string): Promise<void> {
    if (typeof lastId !== 'string' || !/^[0-9]{1,19}$/.test(lastId)) throw new ValidationFailed('lastId', 'must be an event id');
    await this.registerConsumer(consumer);
    await this.em.execute(
      `update "EventConsumer" set "cursor" = greatest("cursor", ?::bigint), "updatedAt" = now() where "name" = ?`,
      [lastId, consumerName(consumer)],
    );
  }

  async cursorOf(consumer: string): Promise<string | null> {
    const rows: { cursor: string }[] = await this.em.execute(`select "cursor"::text as "cursor" from "EventConsumer" where "name" = ?`, [
      consumerName(consumer),
    ]);
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
    if (!Number.isFinite(maxAgeMs) || maxAgeMs < 0) throw new ValidationFailed('maxAgeMs', 'must be a non-negative number');
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
