import { type EntityData, type EntityDictionary, type EntityName, ReferenceKind, SCALAR_TYPES } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * Hydrates one raw row (column names as keys) into a managed entity, as `em.find` does with the rows
 * it reads: merged into the identity map with fresh data, keeping the EntityManager an existing
 * instance belongs to. (`em.map` would re-home the instance to this EntityManager, so an entity a
 * caller holds would later run its methods on a finished transaction.) Numbers that arrive as
 * strings (see rowJson) become numbers where the property is one.
 */
export function mergeRow<T extends object>(em: EntityManager, entityName: EntityName<T>, row: Record<string, unknown>): T {
  const meta = em.getMetadata(entityName);
  const data = em.getDriver().mapResult(row as EntityDictionary<T>, meta) as Record<string, unknown>;
  const validator = em.getValidator();
  for (const key of Object.keys(data)) {
    const prop = meta.props.find((p) => p.name === key);
    if (prop?.kind === ReferenceKind.SCALAR && SCALAR_TYPES.includes(prop.runtimeType) && !prop.customType && (prop.setter || !prop.getter)) {
      data[key] = validator.validateProperty(prop, data[key], data);
    }
  }
  return em.getEntityFactory().create<T>(entityName, data as EntityData<T>, { merge: true, refresh: true, convertCustomTypes: true });
}
