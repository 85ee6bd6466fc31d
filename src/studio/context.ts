import type { EntityManager } from '@mikro-orm/postgresql';
import type { CrybOrm } from '../db/orm';
import { type Html, layout, type LayoutOptions } from './html';
import type { StudioModel } from './metadata';

export interface Reply {
  status: number;
  type: string;
  body: string;
  headers?: Record<string, string>;
}

/** One request: a fresh EntityManager (a unit of work per request), the parsed URL and the studio's settings. */
export interface Ctx {
  /** The studio's own ORM (its small pool), not the service's. */
  orm: CrybOrm;
  em: EntityManager;
  model: StudioModel;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The POSTed form (write mode only, CSRF already checked). */
  form: URLSearchParams | null;
  write: boolean;
  csrf: string;
  /** The database URL, shown (redacted) as the health report's target. */
  databaseUrl: string | null;
}

export type Handler = (ctx: Ctx) => Promise<Reply>;

export interface Route {
  method: 'GET' | 'POST';
  path: string;
  handler: Handler;
}

export function page(
  ctx: Pick<Ctx, 'write' | 'csrf'>,
  title: string,
  active: LayoutOptions['active'],
  body: Html,
  status = 200,
): Reply {
  return {
    status,
    type: 'text/html; charset=utf-8',
    body: layout({ title, active, write: ctx.write, csrf: ctx.csrf }, body).value,
  };
}

const replacer = (_key: string, value: unknown) => (typeof value === 'bigint' ? value.toString() : value);

export function json(data: unknown, status = 200): Reply {
  return { status, type: 'application/json; charset=utf-8', body: JSON.stringify(data, replacer) };
}

export function redirect(location: string): Reply {
  return { status: 303, type: 'text/plain; charset=utf-8', body: '', headers: { location } };
}
