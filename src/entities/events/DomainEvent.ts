import { Entity, EntityRepositoryType, Index, type Opt, PrimaryKey, Property } from '@mikro-orm/core';
import type { DomainEventType, EventScope } from '../../domain/events';
import { DomainEventRepository } from './DomainEventRepository';

/**
 * The id is assigned by the database in commit-safe order: the inserting transaction's id shifted
 * left 20 bits, plus a counter local to that transaction. Every transaction still running has an
 * id at or above the oldest running one (`pg_snapshot_xmin`), so a reader that delivers only ids
 * below `xmin << 20` can never later meet a smaller id: no event is skipped, and cursors only grow.
 */
// Written as PostgreSQL prints it back (pg_get_expr), so schema diffs see no drift.
export const COMMIT_ORDERED_EVENT_ID =
  `((((pg_current_xact_id())::text)::bigint << 20) + ` +
  `(set_config('cryb.event_seq'::text, (((COALESCE(NULLIF(current_setting('cryb.event_seq'::text, true), ''::text), ` +
  `'0'::text))::integer + 1))::text, true))::bigint)`;

@Entity({ repository: () => DomainEventRepository })
@Index({ name: 'DomainEvent_serverId_id_index', properties: ['serverId', 'id'] })
@Index({ name: 'DomainEvent_createdAt_index', properties: ['createdAt'] })
export class DomainEvent {
  [EntityRepositoryType]?: DomainEventRepository;

  @PrimaryKey({ type: 'bigint', defaultRaw: COMMIT_ORDERED_EVENT_ID, autoincrement: false })
  id!: string & Opt;

  @Property({ type: 'text' })
  type: DomainEventType;

  @Property({ type: 'jsonb' })
  payload: Record<string, unknown>;

  @Property({ type: 'bigint', nullable: true })
  serverId: string | null;

  @Property({ type: 'bigint', nullable: true })
  channelId: string | null;

  /** Recipients, for events addressed to users rather than a server or channel. */
  @Property({ columnType: 'bigint[]', type: 'string[]', nullable: true })
  userIds: string[] | null;

  @Property({ defaultRaw: 'now()' })
  createdAt: Date & Opt = new Date();

  constructor(type: DomainEventType, payload: Record<string, unknown>, scope: EventScope) {
    this.type = type;
    this.payload = payload;
    this.serverId = scope.serverId ?? null;
    this.channelId = scope.channelId ?? null;
    this.userIds = scope.userIds?.length ? scope.userIds : null;
  }
}
