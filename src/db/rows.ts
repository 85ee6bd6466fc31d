import { type EntityName, type EntityProperty, ReferenceKind, SCALAR_TYPES } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * Hydrates one raw row (column names as keys) into a managed entity, as `em.find` does with the rows
 * it reads: merged into the identity map with fresh data, keeping the EntityManager an existing
 * instance belongs to. (`em.map` would re-home the instance to this EntityManager, so an entity a
 * caller holds would later run its methods on a finished transaction.) A number that arrives as a
 * string (a wide column, see rowJson) becomes a number where the property is one.
 */
export function mergeRow<T extends object>(em: EntityManager, entityName: EntityName<T>, row: Record<string, unknown>): T {
  const meta = em.getMetadata().get<T>(entityName as never);
  const data = em.getDriver().mapResult(row as never, meta) as Record<string, unknown>;
  const properties: Partial<Record<string, EntityProperty<T>>> = meta.properties;
  for (const key of Object.keys(data)) {
    const prop = properties[key];
    if (typeof data[key] === 'string' && prop?.kind === ReferenceKind.SCALAR && SCALAR_TYPES.includes(prop.runtimeType) && !prop.customType && (prop.setter || !prop.getter)) {
      data[key] = em.getValidator().validateProperty(prop, data[key], data);
    }
  }
  return em.getEntityFactory().create<T>(entityName, data as never, { merge: true, refresh: true, convertCustomTypes: true });
}
