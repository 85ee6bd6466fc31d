/**
 * @cryb/database/testing: real PostgreSQL test databases for a service's own tests (vitest or
 * node:test), the seeded scenarios with handles to their actors, and a race helper.
 */
export {
  createTestDatabase,
  useTestDatabase,
  migratedTemplate,
  race,
  fulfilled,
  rejected,
  TEST_DATABASE_PREFIX,
  type TestDatabase,
  type TestDatabaseOptions,
  type TestHooks,
} from './database';
export { seedScenario, type Scenario } from './scenarios';
