import type { Knex } from '@mikro-orm/postgresql';
import { ValidationFailed } from '../domain/errors';
import { type ColumnKind, ident, type StudioColumn, type StudioEntity } from './metadata';

export const FILTER_OPS = ['eq', 'ne', 'lt', 'gt', 'contains', 'starts', 'has', 'null', 'notnull'] as const;
export type FilterOp = (typeof FILTER_OPS)[number];

const NUMERIC: FilterOp[] = ['eq', 'ne', 'lt', 'gt', 'null', 'notnull'];
/** What each kind of column may be filtered by; the first is the default. */
export const OPS_BY_KIND: Record<ColumnKind, FilterOp[]> = {
  integer: NUMERIC,
  bigint: NUMERIC,
  number: NUMERIC,
  text: ['contains', 'eq', 'ne', 'starts', 'null', 'notnull'],
  enum: ['eq', 'ne', 'null', 'notnull'],
  boolean: ['eq', 'null', 'notnull'],
  timestamp: ['gt', 'lt', 'null', 'notnull'],
  json: ['contains', 'null', 'notnull'],
  array: ['has', 'null', 'notnull'],
  other: ['null', 'notnull'],
};

export const OP_LABELS: Record<FilterOp, string> = {
  eq: '=',
  ne: '≠',
  lt: '<',
  gt: '>',
  contains: 'contains',
  starts: 'starts with',
  has: 'has element',
  null: 'is null',
  notnull: 'is not null',
};

export interface Filter {
  column: StudioColumn;
  op: FilterOp;
  value: string;
}

export interface TableRequest {
  filters: Filter[];
  sort: StudioColumn | null;
  dir: 'asc' | 'desc';
  /** Text values of the key columns of the last row seen (keyset paging). */
  after: (string | null)[] | null;
  limit: number;
}

export const PAGE_LIMITS = { min: 1, max: 200, default: 50 } as const;

const INTEGER = /^-?[0-9]{1,10}$/;
const BIGINT = /^-?[0-9]{1,19}$/;
const PG_TIMESTAMP =
  /^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?$/;

/** Checks a value against its column's kind, so bad input is a typed error, never a database error. */
export function checkValue(column: StudioColumn, value: string, field = column.field, exact = false): string {
  const fail = (reason: string): never => {
    throw new ValidationFailed(field, reason, { column: column.field });
  };
  if (value.length > 1000) fail('must be at most 1000 characters');
  switch (column.kind) {
    case 'integer': {
      const bits = /^(smallint|int2)$/.test(column.columnType) ? 15 : 31;
      if (!INTEGER.test(value)) fail('must be an integer');
      if (Number(value) > 2 ** bits - 1 || Number(value) < -(2 ** bits))
        fail(`must be from ${-(2 ** bits)} to ${2 ** bits - 1}`);
      break;
    }
    case 'bigint':
      if (!BIGINT.test(value) || BigInt(value) > 2n ** 63n - 1n || BigInt(value) < -(2n ** 63n))
        fail('must be a 64-bit integer');
      break;
    case 'number':
      if (value.trim() === '' || !Number.isFinite(Number(value))) fail('must be a number');
      break;
    case 'boolean':
      if (value !== 'true' && value !== 'false') fail('must be true or false');
      break;
    case 'timestamp':
      if (Number.isNaN(Date.parse(value))) fail('must be a date');
      // A key keeps PostgreSQL's exact text (microseconds); a filter bound is normalised.
      if (exact && PG_TIMESTAMP.test(value)) return value;
      return new Date(value).toISOString();
    case 'enum':
      if (!column.enumItems!.includes(value)) fail(`must be one of ${column.enumItems!.join(', ')}`);
      break;
  }
  return value;
}

function checkArrayElement(column: StudioColumn, value: string): string {
  const base = column.columnType.replace(/\[\]$/, '');
  if (/^(bigint|int)/.test(base) && !BIGINT.test(value))
    throw new ValidationFailed(`f.${column.field}`, 'must be an integer', { column: column.field });
  return value;
}

const likeEscape = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

function filterSql(filter: Filter, bindings: Knex.RawBinding[]): string {
  const col = ident(filter.column.field);
  switch (filter.op) {
    case 'null':
      return `${col} is null`;
    case 'notnull':
      return `${col} is not null`;
    case 'contains':
      bindings.push(`%${likeEscape(filter.value)}%`);
      return filter.column.kind === 'json' ? `${col}::text ilike ?` : `${col} ilike ?`;
    case 'starts':
      bindings.push(`${likeEscape(filter.value)}%`);
      return `${col} like ?`;
    case 'has':
      bindings.push(filter.value);
      return `? = any(${col})`;
    default: {
      const op = { eq: '=', ne: '<>', lt: '<', gt: '>' }[filter.op];
      bindings.push(filter.value);
      return filter.op === 'ne' ? `${col} is distinct from ?` : `${col} ${op} ?`;
    }
  }
}

/** Parses the table view's query string against the entity's metadata: unknown names are refused. */
export function parseTableRequest(entity: StudioEntity, query: URLSearchParams): TableRequest {
  const columns = new Map(entity.columns.map((c) => [c.field, c]));
  const fields = new Set<string>();
  for (const [key] of query) {
    if (!key.startsWith('f.') && !key.startsWith('op.')) continue;
    const field = key.slice(key.indexOf('.') + 1);
    if (!columns.has(field)) throw new ValidationFailed(key, `${entity.name} has no column ${field}`);
    fields.add(field);
  }
  const filters: Filter[] = [];
  for (const field of fields) {
    const column = columns.get(field)!;
    const op = (query.get(`op.${field}`) || OPS_BY_KIND[column.kind][0]) as FilterOp;
    if (!OPS_BY_KIND[column.kind].includes(op))
      throw new ValidationFailed(`op.${field}`, `must be one of ${OPS_BY_KIND[column.kind].join(', ')}`);
    const raw = query.get(`f.${field}`) ?? '';
    if (op === 'null' || op === 'notnull') filters.push({ column, op, value: '' });
    else if (raw === '') continue;
    else if (op === 'has') filters.push({ column, op, value: checkArrayElement(column, raw) });
    else if (op === 'contains' || op === 'starts') filters.push({ column, op, value: checkLength(field, raw) });
    else filters.push({ column, op, value: checkValue(column, raw, `f.${field}`) });
  }
  const sortName = query.get('sort');
  let sort: StudioColumn | null = null;
  if (sortName) {
    sort = columns.get(sortName) ?? null;
    if (!sort) throw new ValidationFailed('sort', `${entity.name} has no column ${sortName}`);
    if (!sort.sortable)
      throw new ValidationFailed(
        'sort',
        `${sortName} leads no index; sortable: ${entity.columns
          .filter((c) => c.sortable)
          .map((c) => c.field)
          .join(', ')}`,
      );
    if (sort.primary && sort.field === entity.primaryKey[0]) sort = null;
  }
  const dirValue = query.get('dir') ?? 'asc';
  if (dirValue !== 'asc' && dirValue !== 'desc') throw new ValidationFailed('dir', 'must be asc or desc');
  const limitValue = query.get('limit');
  const limit = limitValue === null ? PAGE_LIMITS.default : Number(limitValue);
  if (!Number.isInteger(limit) || limit < PAGE_LIMITS.min || limit > PAGE_LIMITS.max) {
    throw new ValidationFailed('limit', `must be an integer from ${PAGE_LIMITS.min} to ${PAGE_LIMITS.max}`);
  }
  const request: TableRequest = { filters, sort, dir: dirValue, after: null, limit };
  const after = query.get('after');
  if (after) {
    const keys = keyColumns(entity, request);
    request.after = decodeCursor(after, keys.length).map((value, i) => {
      if (value === null && !keys[i].nullable) throw new ValidationFailed('after', 'is not a cursor of this table');
      return value === null ? null : checkValue(keys[i], value, 'after', true);
    });
  }
  return request;
}

function checkLength(field: string, value: string): string {
  if (value.length > 1000) throw new ValidationFailed(`f.${field}`, 'must be at most 1000 characters');
  return value;
}

/** The sort column (when any) and then the primary key: a total order, so keyset paging skips nothing. */
export function keyColumns(entity: StudioEntity, request: Pick<TableRequest, 'sort'>): StudioColumn[] {
  const pk = entity.primaryKey.map((field) => entity.columns.find((c) => c.field === field)!);
  return request.sort ? [request.sort, ...pk.filter((c) => c !== request.sort)] : pk;
}

export function encodeCursor(values: (string | null)[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

function decodeCursor(text: string, length: number): (string | null)[] {
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw new ValidationFailed('after', 'is not a cursor of this table');
  }
  if (
    !Array.isArray(values) ||
    values.length !== length ||
    !values.every((v) => v === null || (typeof v === 'string' && v.length <= 1000))
  ) {
    throw new ValidationFailed('after', 'is not a cursor of this table');
  }
  return values as (string | null)[];
}

function keysetSql(
  keys: StudioColumn[],
  after: (string | null)[],
  dir: 'asc' | 'desc',
  bindings: Knex.RawBinding[],
): string {
  const cmp = dir === 'asc' ? '>' : '<';
  const [first, ...rest] = keys;
  const restTuple = (values: (string | null)[]) => {
    bindings.push(...values);
    return `(${rest.map((c) => ident(c.field)).join(', ')}) ${cmp} (${rest.map(() => '?').join(', ')})`;
  };
  if (!first.nullable || rest.length === 0) {
    bindings.push(...after);
    return `(${keys.map((c) => ident(c.field)).join(', ')}) ${cmp} (${keys.map(() => '?').join(', ')})`;
  }
  // A nullable sort column: nulls come last ascending and first descending, as a b-tree returns them.
  const col = ident(first.field);
  const [value, ...others] = after;
  if (value === null) {
    return dir === 'asc'
      ? `(${col} is null and ${restTuple(others)})`
      : `(${col} is not null or (${col} is null and ${restTuple(others)}))`;
  }
  bindings.push(value);
  const strictly = dir === 'asc' ? `${col} > ? or ${col} is null` : `${col} < ?`;
  bindings.push(value);
  return `(${strictly} or (${col} = ? and ${restTuple(others)}))`;
}

/** The statement for one page (limit + 1 rows, to know whether another page follows). */
export function pageQuery(
  entity: StudioEntity,
  request: TableRequest,
): { sql: string; bindings: Knex.RawBinding[]; keys: StudioColumn[] } {
  const bindings: Knex.RawBinding[] = [];
  const keys = keyColumns(entity, request);
  const where = request.filters.map((f) => filterSql(f, bindings));
  if (request.after) where.push(keysetSql(keys, request.after, request.dir, bindings));
  const nulls = request.dir === 'asc' ? 'nulls last' : 'nulls first';
  const order = keys.map((c) => `${ident(c.field)} ${request.dir}${c.nullable ? ` ${nulls}` : ''}`).join(', ');
  bindings.push(request.limit + 1);
  const sql = `select ${selectText(entity)}, ${keys.map((c, i) => `${ident(c.field)}::text as "__k${i}"`).join(', ')}
  from ${ident(entity.table)}${where.length ? ` where ${where.join(' and ')}` : ''} order by ${order} limit ?`;
  return { sql, bindings, keys };
}

/** Every column as its exact text (bigints, microseconds and JSON as PostgreSQL prints them). */
export function selectText(entity: StudioEntity): string {
  return entity.columns.map((c) => `${ident(c.field)}::text as ${ident(c.field)}`).join(', ');
}

export function rowQuery(entity: StudioEntity, pk: string[]): { sql: string; bindings: Knex.RawBinding[] } {
  if (pk.length !== entity.primaryKey.length)
    throw new ValidationFailed('pk', `${entity.name} has a primary key of ${entity.primaryKey.length} column(s)`);
  const columns = entity.primaryKey.map((field) => entity.columns.find((c) => c.field === field)!);
  const values = columns.map((c, i) => checkValue(c, pk[i], 'pk', true));
  return {
    sql: `select ${selectText(entity)} from ${ident(entity.table)}
      where ${columns.map((c) => `${ident(c.field)} = ?`).join(' and ')}`,
    bindings: values,
  };
}
