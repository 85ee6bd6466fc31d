import { afterAll, beforeAll, inject } from 'vitest';
import {
  createTestDatabase as createFromKit,
  fulfilled,
  race,
  rejected,
  type TestDatabase,
} from '../../src/testing/database';

/**
 * This repository's tests use the package's testing kit (@cryb/database/testing) on the run's
 * server and template, which test/support/global-setup.ts builds once from the real migrations.
 */
export type { TestDatabase };
export { race, fulfilled, rejected };

/** A database of its own for the calling test file, cloned from the migrated template. */
export async function createTestDatabase(options: { poolSize?: number } = {}): Promise<TestDatabase> {
  return createFromKit({
    serverUrl: inject('adminUrl'),
    template: inject('templateDatabase'),
    poolSize: options.poolSize,
  });
}

/** Registers a per-file database; the returned getter is valid inside tests. */
export function useTestDatabase(options: { poolSize?: number } = {}): () => TestDatabase {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase(options);
  });
  afterAll(async () => {
    await db?.close();
  });
  return () => {
    if (!db) throw new Error('the test database is not ready: call useTestDatabase() at the top of the file');
    return db;
  };
}
