/**
 * npm run db:seed:small | db:seed | db:seed:large, and npm run db:check.
 *
 *   tsx scripts/seed.ts <small|default|large> [--seed=N] [--reset] [--resume] [--json]
 *   tsx scripts/seed.ts check
 *
 * Seeds DATABASE_URL (or the embedded server) with a scenario, showing progress on stderr, then
 * checks the domain invariants. Pending migrations are applied first. A database holding a world is
 * refused unless --reset; an interrupted run (Ctrl-C stops at the next committed chunk; a second
 * Ctrl-C quits at once, rolling back the chunk in flight) is finished with --resume. --json prints
 * the report (wall time, rows/s, peak RSS).
 *
 * Exit codes: 0 done (check: no violations), 1 failed (check: violations found), 2 refused (a world
 * or an interrupted run is there: the message names the flag), 3 bad usage, 4 no database,
 * 5 (check only) migrations pending.
 */
import { checkInvariants, describeViolations } from '../src/db/invariants';
import { createOrm, migrate } from '../src/db/orm';
import { seedFromEnvironment } from '../src/seeders/factories/UserFactory';
import { SeedRefused, seedScenario } from '../src/seeders/world/run';
import { EXIT, Refused, runCommand, UsageError } from '../src/ops/failure';

const COMMANDS = ['small', 'default', 'large', 'check'];
const FLAGS = ['--reset', '--resume', '--json'];

async function main(): Promise<number> {
  const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const [command = 'default'] = positional;
  const unknown = process.argv
    .slice(2)
    .find((a) => a.startsWith('--') && !FLAGS.includes(a) && !a.startsWith('--seed='));
  if (unknown || positional.length > 1 || !COMMANDS.includes(command)) {
    throw new UsageError(
      `${unknown ? `unknown option ${unknown}` : `unknown scenario "${positional.join(' ')}"`}; usage: tsx ` +
        `scripts/seed.ts small|default|large|check [--seed=N] [--reset] [--resume] [--json]`,
    );
  }
  // check reads what is there; seeding applies pending migrations itself first.
  const orm = await createOrm({
    embedded: true,
    migrations: command === 'check' ? 'check' : 'ignore',
    logger: (line) => console.error(line),
  });
  try {
    if (command === 'check') {
      const violations = await checkInvariants(orm.em.fork());
      console.log(describeViolations(violations));
      return violations.length === 0 ? EXIT.ok : EXIT.failed;
    }
    // A world needs the schema: apply pending migrations first (under the migration lock), as the demo does.
    const applied = await migrate(orm);
    if (applied.length > 0) console.error(`applied ${applied.length} pending migration(s) first`);
    const controller = new AbortController();
    process.on('SIGINT', () => {
      if (controller.signal.aborted) process.exit(130);
      console.error('\nstopping after the chunk in flight (Ctrl-C again to quit now; --resume finishes later)');
      controller.abort();
    });
    const report = await seedScenario(orm.em.fork(), {
      scenario: command,
      seed: seedFromEnvironment(),
      reset: process.argv.includes('--reset') || process.env.SEED_RESET === '1',
      resume: process.argv.includes('--resume') || process.env.SEED_RESUME === '1',
      signal: controller.signal,
    });
    if (process.argv.includes('--json')) console.log(JSON.stringify(report, null, 2));
    else
      console.log(
        `seeded "${report.scenario}" (seed ${report.seed}): ${report.totalRows} rows ` +
          `in ${(report.wallMs / 1000).toFixed(1)} s, ${report.rowsPerSecond} rows/s, peak RSS ${report.peakRssMb} MB`,
      );
    return 0;
  } catch (error) {
    if (error instanceof SeedRefused) throw new Refused(error.message);
    throw error;
  } finally {
    await orm.close(true);
  }
}

runCommand(main);
