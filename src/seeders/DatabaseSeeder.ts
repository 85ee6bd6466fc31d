import { ScenarioSeeder } from './world/scenario-seeder';

/**
 * The default world, as the platform's documentation promises for `db:seed`: 100 users and 10
 * servers with role hierarchies, overwrites, friendships and blocks, DMs and group DMs, threads,
 * messages with reactions, attachments and pins, voice states and sessions, and analytics history.
 * Deterministic for a given SEED (or --seed=N). See world/ for how, and SmallSeeder / LargeSeeder.
 */
export class DatabaseSeeder extends ScenarioSeeder {
  protected readonly scenario = 'default';
}
