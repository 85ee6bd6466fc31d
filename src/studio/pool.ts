import { MikroORM } from '@mikro-orm/core';
import type { CrybOrm } from '../db/orm';

export interface StudioPoolOptions {
  /** Connections the studio may hold at once. */
  poolSize: number;
  /** Every statement the studio sends is cancelled after this long. */
  statementTimeoutMs: number;
}

/** The application_name of the studio's connections, so pg_stat_activity shows what they are. */
export const STUDIO_APPLICATION_NAME = 'cryb-studio';

/**
 * The studio's own ORM on the service's database: the same entities, subscribers and URL, but a
 * pool of its own, small and with a statement_timeout, so a browser tab (or a flood of requests)
 * can never take the service's connections or the server's max_connections.
 */
export async function studioOrm(orm: CrybOrm, options: StudioPoolOptions): Promise<CrybOrm> {
  const base = orm.config.getAll();
  const connection = { statement_timeout: options.statementTimeoutMs, application_name: STUDIO_APPLICATION_NAME };
  return await MikroORM.init({
    ...base,
    replicas: [],
    preferReadReplicas: false,
    pool: { min: 0, max: options.poolSize },
    // Connections open on the first request; the service's ORM already proved the database reachable.
    connect: false,
    driverOptions: {
      ...(base.driverOptions as object | undefined),
      connection: { ...((base.driverOptions as { connection?: object } | undefined)?.connection ?? {}), ...connection },
    },
  });
}

export class StudioBusy extends Error {
  constructor() {
    super('the studio is busy: try again in a moment');
  }
}

/**
 * At most `maxConcurrent` requests touch the database at once, `maxQueued` more wait their turn, and
 * the rest are refused at once (503) instead of piling up.
 */
export class RequestGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly maxConcurrent: number,
    readonly maxQueued: number,
  ) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.maxConcurrent) {
      if (this.waiting.length >= this.maxQueued) throw new StudioBusy();
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running += 1;
    }
    try {
      return await work();
    } finally {
      // Hand the slot straight to the next waiter, or free it.
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}
