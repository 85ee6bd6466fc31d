import { DomainEvent } from '../../src/entities/events/DomainEvent';
import type { TestDatabase } from './db';

/**
 * Waits until `id` is below the delivery horizon. The horizon is the oldest transaction running
 * anywhere on the server (other test files included), so delivery is prompt but not immediate.
 */
export async function deliverable(db: TestDatabase, id: string): Promise<void> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
    const [{ horizon }] = await db.sql<{ horizon: string }>(
      `select (pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 20)::text as horizon`,
    );
    if (BigInt(horizon) > BigInt(id)) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`event ${id} never became deliverable`);
}

/** Registers a consumer after every event that exists now, once those are all past the horizon. */
export async function registerLatest(db: TestDatabase, name: string): Promise<void> {
  const [{ id }] = await db.sql<{ id: string | null }>(`select max(id)::text as id from "DomainEvent"`);
  if (id) await deliverable(db, id);
  await db.fork().getRepository(DomainEvent).registerConsumer(name, { from: 'latest' });
}
