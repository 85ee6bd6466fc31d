import type { CrybOrm } from '../db/orm';
import { seedFromEnvironment } from '../seeders/factories/UserFactory';
import { seedScenario } from '../seeders/world/run';

/** Seeds the small scenario (about 20 users, 2 servers) into an empty database; returns a line saying what it made. */
export async function seedSmallWorld(orm: CrybOrm): Promise<string> {
  const report = await seedScenario(orm.em.fork(), { scenario: 'small', seed: seedFromEnvironment(), log: null });
  const violations = report.violations.length ? `; ${report.violations.length} invariant violation(s)!` : '';
  return (
    `seeded the small world (seed ${report.seed}): ${report.rows.User ?? '?'} users, ` +
    `${report.rows.Server ?? '?'} servers, ${report.totalRows} rows ` +
    `in ${(report.wallMs / 1000).toFixed(1)} s${violations}`
  );
}
