import type { EntityName } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * Where read-only queries go when replicas are configured (DATABASE_REPLICA_URLS).
 *
 * MikroORM picks a connection per query: inside a transaction (`em.transactional`, `transact`,
 * `unitOfWork`, every domain method that returns a Promise) always the primary; otherwise the
 * primary unless the query asks for 'read' (or `preferReadReplicas` is on, which this package
 * leaves off). 'read' picks one replica at random, or the primary when there are none, so these
 * helpers are safe to call on a single server too.
 *
 * Read-your-writes: a replica replays the primary's WAL a little later (milliseconds on a quiet
 * network, more under load). Use these helpers only where a slightly stale answer is fine: history
 * pages, search, analytics, dashboards, health. Read through the primary (the plain `em`) whatever
 * you are about to change, and whatever the same user has just written and expects to see.
 */

/** A raw connection to a replica (or the primary when there are none): `execute(sql, params)`. */
export function readConnection(em: EntityManager) {
  return em.getConnection('read');
}

/** A QueryBuilder whose queries run on a replica; `execute()` it into plain rows for hot paths. */
export function readQueryBuilder<T extends object>(em: EntityManager, entity: EntityName<T>, alias?: string) {
  return em.createQueryBuilder(entity, alias, 'read');
}

/** `em.find(Entity, where, readOptions)`: find options that route the query to a replica. */
export const readOptions = { connectionType: 'read' } as const;
