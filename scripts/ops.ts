/**
 * npm run db:health | db:backup | db:restore | db:backups | db:maintain: the package's cryb-db CLI,
 * from the source tree.
 */
import { main } from '../src/ops/cli';
import { plainOutputUnlessTerminal, reportFailure } from '../src/ops/failure';

// This repository's scripts may use (and start) the embedded server when DATABASE_URL is unset.
process.env.CRYB_EMBEDDED ??= '1';
plainOutputUnlessTerminal();
// main reports its own failures and resolves to the exit code; the rejection handler is for a bug in it.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => process.exit(reportFailure(error)),
);
