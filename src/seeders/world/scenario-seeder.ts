import type { EntityManager } from '@mikro-orm/postgresql';
import { Seeder } from '@mikro-orm/seeder';
import { seedFromEnvironment } from '../factories/UserFactory';
import { seedScenario, type SeedReport, type SeedRunOptions } from './run';
import type { ScenarioName } from './spec';

const flag = (name: string, env: string) => process.argv.includes(`--${name}`) || process.env[env] === '1';

/**
 * A scenario as a MikroORM Seeder, for `mikro-orm seeder:run --class=...` and `orm.getSeeder()`.
 * Options come from the constructor, else from the environment: SEED, SEED_RESET=1, SEED_RESUME=1
 * (the mikro-orm CLI refuses unknown flags; scripts/seed.ts takes --seed=N, --reset, --resume).
 */
export abstract class ScenarioSeeder extends Seeder {
  protected abstract readonly scenario: ScenarioName;
  /** The last run's report (wall time, rows, peak RSS, handles). */
  report?: SeedReport;

  constructor(private readonly options: Partial<Omit<SeedRunOptions, 'scenario'>> = {}) {
    super();
  }

  async run(em: EntityManager): Promise<void> {
    this.report = await seedScenario(em, {
      scenario: this.scenario,
      seed: this.options.seed ?? seedFromEnvironment(),
      reset: this.options.reset ?? flag('reset', 'SEED_RESET'),
      resume: this.options.resume ?? flag('resume', 'SEED_RESUME'),
      log: this.options.log,
      signal: this.options.signal,
    });
  }
}
