/** npm run db:health | db:backup | db:restore | db:backups: the package's cryb-db CLI, from the source tree. */
import { main } from '../src/ops/cli';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
