#!/usr/bin/env node
'use strict';
// The installed package's CLI: plain JavaScript over the compiled dist/, no TypeScript tooling.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const cli = join(__dirname, '..', 'dist', 'src', 'ops', 'cli.js');
if (!existsSync(cli)) {
  console.error(`error: ${cli} is missing: in a source checkout run \`npm run build\` first (or use the npm run db:* scripts)`);
  process.exit(1);
}
require(cli)
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
