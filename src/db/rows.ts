import {
  type EntityData,
  type EntityDictionary,
  type EntityMetadata,
  type EntityName,
  type EntityProperty,
  ReferenceKind,
  SCALAR_TYPES,
} from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { SqlStatement } from './statements';

/**
 * Hydrates one raw row (column names as keys) into a managed entity, as `em.find` does with the rows
 * it reads: merged into the identity map with fresh data, keeping the EntityManager an existing
 * instance belongs to. (`em.map` would re-home the instance to this EntityManager, so an entity a
 * caller holds would later run its methods on a finished transaction.) A number that arrives as a
 * string (a wide column, see rowJson) becomes a number where the property is one.
 */
export function mergeRow<T extends object>(
  em: EntityManager,
  entityName: EntityName<T>,
  row: Record<string, unknown>,
): T {
  const meta = em.getMetadata(entityName);
  const data = em.getDriver().mapResult(row as EntityDictionary<T>, meta) as Record<string, unknown>;
  const properties: Partial<Record<string, EntityProperty<T>>> = meta.properties;
  for (const key of Object.keys(data)) {
    const prop = properties[key];
    if (
      typeof data[key] === 'string' &&
      prop?.kind === ReferenceKind.SCALAR &&
      SCALAR_TYPES.includes(prop.runtimeType) &&
      !prop.customType &&
      (prop.setter || !prop.getter)
    ) {
      data[key] = em.getValidator().validateProperty(prop, data[key], data);
    }
  }
  return em
    .getEntityFactory()
    .create<T>(entityName, data as EntityData<T>, { merge: true, refresh: true, convertCustomTypes: true });
}

const COLUMN_KINDS: ReadonlySet<ReferenceKind> = new Set([
  ReferenceKind.SCALAR,
  ReferenceKind.MANY_TO_ONE,
  ReferenceKind.ONE_TO_ONE,
]);

/** The properties stored in the entity's own table, one column each: what a row of it holds. */
export function columnProperties<T>(meta: EntityMetadata<T>): EntityProperty<T>[] {
  return meta.props.filter(
    (prop) =>
      COLUMN_KINDS.has(prop.kind) &&
      prop.persist !== false &&
      !prop.formula &&
      !(prop.kind === ReferenceKind.ONE_TO_ONE && !prop.owner),
  );
}

/**
 * The INSERT of a new entity's row, with the values a flush would write (the unit of work's own
 * snapshot: custom types converted, references as keys). A caller sends it within a statement of
 * its own, then calls `em.merge(entity)` so the entity is managed with that row as its state, and
 * the next flush finds nothing to write for it. Generated columns and unset ones take their defaults.
 */
export function newEntityInsert<T extends object>(em: EntityManager, entity: T): SqlStatement {
  const meta = em.getMetadata().get<T>(entity.constructor.name);
  const snapshot = em.getComparator().prepareEntity(entity) as Record<string, unknown>;
  const columns: string[] = [];
  const params: unknown[] = [];
  for (const prop of columnProperties(meta)) {
    const value = snapshot[prop.name];
    if (prop.generated || value === undefined) continue;
    if (prop.fieldNames.length !== 1)
      throw new TypeError(`${meta.className}.${prop.name} spans several columns: insert it through a flush`);
    columns.push(`"${prop.fieldNames[0]}"`);
    params.push(value);
  }
  return {
    sql: `insert into "${meta.tableName}" (${columns.join(', ')}) values (${columns.map(() => '?').join(', ')})`,
    params,
  };
}
