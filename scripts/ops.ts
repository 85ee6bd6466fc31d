/** npm run db:health | db:backup | db:restore | db:backups | db:maintain: the package's cryb-db CLI, from the source tree. */
import { main } from '../src/ops/cli';
import { plainOutputUnlessTerminal } from '../src/ops/failure';

// This repository's scripts may use (and start) the embedded server when DATABASE_URL is unset.
process.env.CRYB_EMBEDDED ??= '1';
plainOutputUnlessTerminal();
main(process.argv.slice(2)).then((code) => process.exit(code));
