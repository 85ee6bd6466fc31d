import { ValidationFailed, NotFound } from '../../domain/errors';
import { type Ctx, json, page, type Route } from '../context';
import { href, html, type Html, seg, table } from '../html';
import { ident, type StudioEntity } from '../metadata';
import { query } from '../sql';
import {
  encodeCursor,
  OP_LABELS,
  OPS_BY_KIND,
  PAGE_LIMITS,
  pageQuery,
  parseTableRequest,
  rowQuery,
  type TableRequest,
} from '../table-query';

/** Counting every row of a large table is slow: above this estimate the list shows the estimate. */
const EXACT_COUNT_BELOW = 100_000;

type Row = Record<string, string | null>;

function entityOf(ctx: Ctx): StudioEntity {
  const entity = ctx.model.byName.get(ctx.params.name);
  if (!entity) throw new NotFound('Entity', ctx.params.name);
  return entity;
}

export async function rowCounts(ctx: Ctx): Promise<{ entity: StudioEntity; rows: number; exact: boolean }[]> {
  const tables = ctx.model.entities.map((e) => e.table);
  const estimates = await query<{ table: string; estimate: string }>(
    ctx.em,
    `select c.relname as "table", c.reltuples::bigint::text as estimate from pg_class c
       join pg_namespace n on n.oid = c.relnamespace where n.nspname = current_schema() and c.relkind in ('r', 'p')
         and c.relname = any(?::text[])`,
    [tables],
  );
  const estimateOf = new Map(estimates.map((r) => [r.table, Number(r.estimate)]));
  const out = [];
  for (const entity of ctx.model.entities) {
    const estimate = estimateOf.get(entity.table) ?? -1;
    if (estimate >= EXACT_COUNT_BELOW) {
      out.push({ entity, rows: estimate, exact: false });
      continue;
    }
    const [{ count }] = (await query<{ count: string }>(
      ctx.em,
      `select count(*)::text as count from ${ident(entity.table)}`,
    )) as [{ count: string }];
    out.push({ entity, rows: Number(count), exact: true });
  }
  return out;
}

export const rowHref = (entity: StudioEntity | string, pk: (string | null)[]) =>
  href(`/entities/${seg(typeof entity === 'string' ? entity : entity.name)}/row`, { pk: pk.map((v) => v ?? '') });

/** A cell: relation columns link to the related row, nulls are marked, long text is cut. */
function cell(entity: StudioEntity, row: Row, field: string, full = false): Html {
  const value = row[field];
  if (value === null || value === undefined) return html`<span class="muted">null</span>`;
  const relation = entity.relations.find((r) => r.fields.includes(field));
  const shown = !full && value.length > 160 ? `${value.slice(0, 160)}…` : value;
  if (relation) {
    const values = relation.fields.map((f) => row[f] ?? null);
    if (values.every((v) => v !== null))
      return html`<a href="${rowHref(relation.target, values)}" title="${relation.target}">${shown}</a>`;
  }
  return html`${shown}`;
}

export async function tablePage(ctx: Ctx, entity: StudioEntity, request: TableRequest) {
  const { sql, bindings, keys } = pageQuery(entity, request);
  const rows = await query<Row>(ctx.em, sql, bindings);
  const more = rows.length > request.limit;
  const shown = rows.slice(0, request.limit);
  const last = shown[shown.length - 1];
  const next = more && last ? encodeCursor(keys.map((_, i) => last[`__k${i}`] ?? null)) : null;
  const clean: Row[] = shown.map((r) => Object.fromEntries(entity.columns.map((c) => [c.field, r[c.field] ?? null])));
  return { rows: clean, next };
}

function filterForm(entity: StudioEntity, ctx: Ctx): Html {
  const sortable = entity.columns.filter((c) => c.sortable);
  const sortOption = (c: (typeof sortable)[number]) =>
    html`<option${ctx.query.get('sort') === c.field ? html` selected` : ''}>${c.field}</option>`;
  const limit = Number(ctx.query.get('limit') ?? PAGE_LIMITS.default);
  const limitOption = (n: number) => html`<option${limit === n ? html` selected` : ''}>${n}</option>`;
  const active = [...ctx.query.keys()].filter(
    (k) => k.startsWith('f.') || (k.startsWith('op.') && ['null', 'notnull'].includes(ctx.query.get(k)!)),
  ).length;
  return html`<details class="filters" ${active || ctx.query.has('sort') ? html` open` : ''}>
    <summary>Filter and sort${active ? ` (${active} active)` : ''}</summary>
    <form class="filters" method="get" action="/entities/${seg(entity.name)}">
      <table>
        <tbody>
          ${entity.columns.map((c) => {
            const ops = OPS_BY_KIND[c.kind];
            const chosen = ctx.query.get(`op.${c.field}`) ?? ops[0];
            const opOption = (op: (typeof ops)[number]) =>
              html`<option value="${op}" ${op === chosen ? html` selected` : ''}>${OP_LABELS[op]}</option>`;
            const filtered = ctx.query.get(`f.${c.field}`);
            const enumOption = (v: string) => html`<option${filtered === v ? html` selected` : ''}>${v}</option>`;
            return html`<tr>
              <td><code>${c.field}</code> <span class="kind">${c.columnType}</span></td>
              <td>
                <select name="op.${c.field}" aria-label="operator for ${c.field}">
                  ${ops.map(opOption)}
                </select>
              </td>
              <td>
                ${
                  c.enumItems
                    ? html`<select name="f.${c.field}" aria-label="filter ${c.field}">
                        <option value=""></option>
                        ${c.enumItems.map(enumOption)}
                      </select>`
                    : html`<input
                        name="f.${c.field}"
                        aria-label="filter ${c.field}"
                        value="${ctx.query.get(`f.${c.field}`) ?? ''}"
                        size="24"
                      />`
                }
              </td>
            </tr>`;
          })}
        </tbody>
      </table>
      sort by
      <select name="sort">
        <option value="">primary key</option>
        ${sortable.map(sortOption)}
      </select>
      <select name="dir">
        <option value="asc">ascending</option>
        <option value="desc" ${ctx.query.get('dir') === 'desc' ? html` selected` : ''}>descending</option>
      </select>
      <select name="limit">
        ${[25, 50, 100, 200].map(limitOption)}
      </select>
      <button type="submit">apply</button> <a href="/entities/${seg(entity.name)}">clear</a>
    </form>
  </details>`;
}

async function entitiesPage(ctx: Ctx) {
  const counts = await rowCounts(ctx);
  return page(
    ctx,
    'Tables',
    'entities',
    table(
      ['entity', 'table', 'rows', 'columns', 'relations'],
      counts.map(({ entity, rows, exact }) => [
        html`<a href="/entities/${seg(entity.name)}">${entity.name}</a>`,
        html`<code>${entity.table}</code>`,
        exact ? rows : html`≈ ${rows}`,
        entity.columns.length,
        entity.relations.map((r) => html`<a href="/entities/${seg(r.target)}">${r.property}</a> `),
      ]),
    ),
  );
}

async function tableView(ctx: Ctx) {
  const entity = entityOf(ctx);
  const request = parseTableRequest(entity, ctx.query);
  const { rows, next } = await tablePage(ctx, entity, request);
  const current = Object.fromEntries([...ctx.query].filter(([k]) => k !== 'after'));
  const path = `/entities/${seg(entity.name)}`;
  const nextLink = next ? html`<a rel="next" href="${href(path, { ...current, after: next })}">next page →</a>` : '';
  const body = html`<p class="muted">
      table <code>${entity.table}</code>, primary key (${entity.primaryKey.join(', ')}); sortable by indexed columns:
      ${entity.columns
        .filter((c) => c.sortable)
        .map((c) => c.field)
        .join(', ')}
    </p>
    ${filterForm(entity, ctx)}
    ${table(
      ['', ...entity.columns.map((c) => c.field)],
      rows.map((row) => [
        html`<a
          href="${rowHref(
            entity,
            entity.primaryKey.map((f) => row[f] ?? null),
          )}"
          >open</a
        >`,
        ...entity.columns.map((c) => cell(entity, row, c.field)),
      ]),
      { empty: 'no rows match' },
    )}
    <div class="pager">${request.after ? html`<a href="${href(path, current)}">first page</a>` : ''}${nextLink}</div>`;
  return page(ctx, entity.name, 'entities', body);
}

export async function loadRow(ctx: Ctx, entity: StudioEntity): Promise<Row> {
  const pk = ctx.query.getAll('pk');
  const { sql, bindings } = rowQuery(entity, pk);
  const [row] = await query<Row>(ctx.em, sql, bindings);
  if (!row) throw new NotFound(entity.name, pk.join(','));
  return row;
}

async function rowView(ctx: Ctx) {
  const entity = entityOf(ctx);
  const row = await loadRow(ctx, entity);
  const referencing = entity.primaryKey.length === 1 ? ctx.model.referencing(entity.name) : [];
  const id = row[entity.primaryKey[0]]!;
  const domain = domainLinks(entity.name, id);
  const referrer = ({ entity: other, relation }: (typeof referencing)[number]) => {
    const field = relation.fields[0];
    const link = href(`/entities/${seg(other.name)}`, { [`f.${field}`]: id, [`op.${field}`]: 'eq' });
    return html`<li><a href="${link}">${other.name}.${relation.property}</a></li>`;
  };
  const body = html`${domain}
  ${table(
    ['column', 'type', 'value'],
    entity.columns.map((c) => [
      html`<code>${c.field}</code>`,
      html`<span class="kind">${c.columnType}</span>`,
      cell(entity, row, c.field, true),
    ]),
  )}
  ${
    referencing.length
      ? html`<h2 class="spaced">Referenced by</h2>
          <ul>
            ${referencing.map(referrer)}
          </ul>`
      : ''
  }`;
  return page(ctx, `${entity.name} ${entity.primaryKey.map((f) => row[f]).join(' / ')}`, 'entities', body);
}

/** Rows that have a domain view get a link to it. */
function domainLinks(name: string, id: string): Html {
  const links: Record<string, [string, string]> = {
    Server: [`/servers/${seg(id)}`, 'open the server view (channels, roles, permissions)'],
    Channel: [`/channels/${seg(id)}`, 'open the channel history'],
    Message: [`/messages/${seg(id)}`, 'open the message'],
    User: [`/users/${seg(id)}`, 'open the user (relationships, servers)'],
  };
  const link = links[name];
  return link ? html`<p><a href="${link[0]}">${link[1]}</a></p>` : html``;
}

async function entitiesApi(ctx: Ctx) {
  const counts = await rowCounts(ctx);
  return json({
    entities: counts.map(({ entity, rows, exact }) => ({
      name: entity.name,
      table: entity.table,
      rows,
      exactCount: exact,
      primaryKey: entity.primaryKey,
      columns: entity.columns.map((c) => ({
        field: c.field,
        type: c.columnType,
        kind: c.kind,
        nullable: c.nullable,
        sortable: c.sortable,
        filters: OPS_BY_KIND[c.kind],
      })),
      relations: entity.relations,
    })),
  });
}

async function rowsApi(ctx: Ctx) {
  const entity = entityOf(ctx);
  const { rows, next } = await tablePage(ctx, entity, parseTableRequest(entity, ctx.query));
  return json({ entity: entity.name, rows, next });
}

async function rowApi(ctx: Ctx) {
  const entity = entityOf(ctx);
  if (ctx.query.getAll('pk').length === 0) throw new ValidationFailed('pk', 'is required');
  return json({ entity: entity.name, row: await loadRow(ctx, entity) });
}

export const TABLE_ROUTES: Route[] = [
  { method: 'GET', path: '/entities', handler: entitiesPage },
  { method: 'GET', path: '/entities/:name', handler: tableView },
  { method: 'GET', path: '/entities/:name/row', handler: rowView },
  { method: 'GET', path: '/api/entities', handler: entitiesApi },
  { method: 'GET', path: '/api/entities/:name/rows', handler: rowsApi },
  { method: 'GET', path: '/api/entities/:name/row', handler: rowApi },
];
