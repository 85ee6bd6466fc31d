import { ScenarioSeeder } from './world/scenario-seeder';

/**
 * 10,000 users, 100 servers, 5,000 channels, 1,000,000 messages with reactions, attachments, voice
 * sessions and analytics: for performance work. Bulk rows through COPY, resumable (`--resume`).
 */
export class LargeSeeder extends ScenarioSeeder {
  protected readonly scenario = 'large';
}
