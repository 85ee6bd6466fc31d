import { ReferenceKind, type EntityMetadata, type EntityProperty } from '@mikro-orm/core';
import type { CrybOrm } from '../db/orm';

/** How a column is filtered and compared: decided from the column type MikroORM knows. */
export type ColumnKind =
  'integer' | 'bigint' | 'number' | 'text' | 'enum' | 'boolean' | 'timestamp' | 'json' | 'array' | 'other';

export interface StudioColumn {
  /** The database column (from metadata only, never from a request). */
  field: string;
  /** The entity property it belongs to. */
  property: string;
  columnType: string;
  kind: ColumnKind;
  nullable: boolean;
  primary: boolean;
  /** Leads an index (or the primary key): the table view may sort by it. */
  sortable: boolean;
  enumItems?: string[];
}

/** A many-to-one (or owning one-to-one) relation: its columns point at the target's primary key. */
export interface StudioRelation {
  property: string;
  target: string;
  fields: string[];
}

export interface StudioEntity {
  name: string;
  table: string;
  columns: StudioColumn[];
  primaryKey: string[];
  relations: StudioRelation[];
}

export interface StudioModel {
  entities: StudioEntity[];
  byName: Map<string, StudioEntity>;
  /** Entities whose single-column relation points at `name`: shown as "referenced by" links. */
  referencing(name: string): { entity: StudioEntity; relation: StudioRelation }[];
}

function kindOf(columnType: string, prop: EntityProperty): ColumnKind {
  const t = columnType.toLowerCase();
  if (prop.enum && prop.items?.length) return 'enum';
  if (t.endsWith('[]')) return 'array';
  if (t === 'bigint' || t === 'int8') return 'bigint';
  if (/^(int|integer|smallint|int2|int4|serial)/.test(t)) return 'integer';
  if (/^(double|real|numeric|decimal|float)/.test(t)) return 'number';
  if (t === 'boolean' || t === 'bool') return 'boolean';
  if (t.startsWith('timestamp') || t === 'date') return 'timestamp';
  if (t === 'json' || t === 'jsonb') return 'json';
  if (/^(varchar|character varying|char|character|text|uuid)/.test(t)) return 'text';
  return 'other';
}

/** Columns that lead an index or the primary key (a b-tree can walk them in order). */
function leadingIndexed(meta: EntityMetadata): Set<string> {
  const fieldsOf = (names: string | string[] | undefined): string[] => {
    const list = typeof names === 'string' ? [names] : (names ?? []);
    return list.flatMap((name) => meta.properties[name]?.fieldNames ?? []);
  };
  const leading = new Set<string>();
  const first = meta.primaryKeys[0];
  if (first) leading.add(meta.properties[first].fieldNames[0]);
  for (const index of [...meta.indexes, ...meta.uniques]) {
    if (index.expression) continue;
    const [lead] = fieldsOf(index.properties);
    if (lead) leading.add(lead);
  }
  for (const prop of meta.props) {
    if ((prop.index || prop.unique) && prop.fieldNames?.length) leading.add(prop.fieldNames[0]);
  }
  return leading;
}

function entityOf(meta: EntityMetadata): StudioEntity {
  const sortable = leadingIndexed(meta);
  const columns: StudioColumn[] = [];
  const relations: StudioRelation[] = [];
  for (const prop of meta.props) {
    if (prop.persist === false || prop.formula || prop.hidden || prop.lazy || !prop.fieldNames?.length) continue;
    const owning = prop.kind === ReferenceKind.MANY_TO_ONE || (prop.kind === ReferenceKind.ONE_TO_ONE && prop.owner);
    if (prop.kind !== ReferenceKind.SCALAR && !owning) continue;
    prop.fieldNames.forEach((field, i) => {
      const columnType = prop.columnTypes?.[i] ?? String(prop.type);
      columns.push({
        field,
        property: prop.name,
        columnType,
        kind: kindOf(columnType, prop),
        nullable: !!prop.nullable,
        primary: !!prop.primary,
        sortable: sortable.has(field),
        ...(prop.enum && prop.items?.length ? { enumItems: prop.items.map(String) } : {}),
      });
    });
    if (owning && prop.targetMeta)
      relations.push({ property: prop.name, target: prop.targetMeta.className, fields: [...prop.fieldNames] });
  }
  const primaryKey = meta.primaryKeys.flatMap((name) => meta.properties[name].fieldNames);
  return { name: meta.className, table: meta.tableName, columns, primaryKey, relations };
}

/** The studio's view of the ORM's metadata: every table it may show, and how. */
export function studioModel(orm: CrybOrm): StudioModel {
  const metas = Object.values(orm.getMetadata().getAll()).filter(
    (m) => !m.embeddable && !m.virtual && !m.abstract && m.tableName,
  );
  const entities = metas.map(entityOf).sort((a, b) => a.name.localeCompare(b.name));
  const byName = new Map(entities.map((e) => [e.name, e]));
  return {
    entities,
    byName,
    referencing: (name) =>
      entities.flatMap((entity) =>
        entity.relations
          .filter((r) => r.target === name && r.fields.length === 1)
          .map((relation) => ({ entity, relation })),
      ),
  };
}

/** A double-quoted identifier. Identifiers come from metadata; quoting keeps any name exact. */
export const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;
