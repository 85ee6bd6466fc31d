import { ScenarioSeeder } from './world/scenario-seeder';

/** About 20 users and 2 servers, everything in them: for development and tests (a second or two). */
export class SmallSeeder extends ScenarioSeeder {
  protected readonly scenario = 'small';
}
