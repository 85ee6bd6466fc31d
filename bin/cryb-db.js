#!/usr/bin/env node
'use strict';
// The installed package's CLI: plain JavaScript over the compiled dist/, no TypeScript tooling.
// Exit codes and CRYB_DEBUG=1: see `cryb-db --help`.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const cli = join(__dirname, '..', 'dist', 'src', 'ops', 'cli.js');
if (!existsSync(cli)) {
  console.error(
    `error: ${cli} is missing: in a source checkout run \`npm run build\` first (or use the npm run db:* scripts)`,
  );
  process.exit(1);
}
require(join(__dirname, '..', 'dist', 'src', 'ops', 'failure.js')).plainOutputUnlessTerminal();
require(cli)
  .main(process.argv.slice(2))
  // process.exit, not exitCode: an open pool or socket must not keep a cron job alive.
  .then((code) => process.exit(code));
