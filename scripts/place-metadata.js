#!/usr/bin/env node
/**
 * Places the build's artifacts that tsc does not emit.
 *
 * 1. Second half of `npm run db:generate`: `mikro-orm cache:generate --combined --ts` wrote the
 * metadata ts-morph discovered to temp/build/metadata.json; this copies it to dist/metadata.json,
 * where src/db/config.ts looks for it when it runs compiled, so the built package needs no
 * TypeScript tooling (no typescript, ts-morph, @mikro-orm/reflection or tsx) at run time.
 * Entity paths are rewritten to the compiled files they describe.
 * 2. When dist/src/index.js exists (after tsc): dist/index.js and dist/index.d.ts, re-exporting it,
 *    so `require('./dist')` from the package root loads the public API as `main` does.
 * Plain JS, so it needs no TypeScript tooling itself.
 */
'use strict';
const { existsSync, mkdirSync, readFileSync, writeFileSync } = require('node:fs');
const { join, resolve } = require('node:path');

const root = resolve(__dirname, '..');
const source = join(root, 'temp', 'build', 'metadata.json');
const target = join(root, 'dist', 'metadata.json');

if (!existsSync(source)) {
  console.error(`place-metadata: ${source} is missing; run \`npm run db:generate\` (it runs cache:generate first)`);
  process.exit(1);
}
const cache = JSON.parse(readFileSync(source, 'utf8'));
const entities = Object.keys(cache);
if (entities.length === 0) {
  console.error('place-metadata: the metadata cache lists no entities');
  process.exit(1);
}
for (const meta of Object.values(cache)) {
  if (typeof meta.path === 'string')
    meta.path = meta.path.replace(/^\.\/(?!dist\/)/, './dist/').replace(/\.ts$/, '.js');
}
mkdirSync(join(root, 'dist'), { recursive: true });
writeFileSync(target, JSON.stringify(cache));
if (existsSync(join(root, 'dist', 'src', 'index.js'))) {
  writeFileSync(join(root, 'dist', 'index.js'), "'use strict';\nmodule.exports = require('./src/index.js');\n");
  writeFileSync(join(root, 'dist', 'index.d.ts'), "export * from './src/index';\n");
}
console.log(`metadata cache for ${entities.length} entities (${entities.join(', ')}) written to dist/metadata.json`);
