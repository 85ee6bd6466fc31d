/**
 * @cryb/database/seeders: the scenario worlds (small, default, large), the MikroORM seeders that
 * wrap them, analytics history, and the invariant check a seeded world must pass.
 */
export {
  seedScenario,
  SeedRefused,
  WORLD_TABLES,
  type SeedRunOptions,
  type SeedReport,
  type SeededWorld,
} from '../seeders/world/run';
export { DatabaseSeeder } from '../seeders/DatabaseSeeder';
export { SmallSeeder } from '../seeders/SmallSeeder';
export { LargeSeeder } from '../seeders/LargeSeeder';
export {
  seedAnalyticsHistory,
  type AnalyticsHistoryOptions,
  type AnalyticsHistoryCounts,
} from '../seeders/factories/AnalyticsFactory';
export { checkInvariants, describeViolations, INVARIANTS, type InvariantViolation } from '../db/invariants';
