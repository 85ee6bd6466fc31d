import { resolve } from 'node:path';
import type { Options } from '@mikro-orm/postgresql';
import { crybConfig, resolveDatabaseUrl } from './src/db/config';
import { plainOutputUnlessTerminal } from './src/ops/failure';

/**
 * CLI commands that never open a connection. They get a placeholder URL, so `npm run build` and
 * `npm run db:generate` need no database (and never start the embedded one).
 */
const OFFLINE_COMMANDS = new Set(['cache:generate', 'cache:clear']);
const offline = process.argv.some((arg) => OFFLINE_COMMANDS.has(arg));
const generatingCache = process.argv.includes('cache:generate');

/**
 * This repository's own config (mikro-orm.config.ts, run by ts-node) serves its development: the
 * embedded server when DATABASE_URL is unset. The compiled copy a consumer may point the CLI at
 * (dist/mikro-orm.config.js) starts nothing: it needs DATABASE_URL.
 */
const SOURCE_CHECKOUT = __filename.endsWith('.ts');

plainOutputUnlessTerminal();

/** The one config, for the mikro-orm CLI and the npm scripts. */
export default async (): Promise<Options> => {
  if (offline) {
    const config = crybConfig({ clientUrl: 'postgresql://offline@127.0.0.1:1/offline' });
    if (!generatingCache) return config;
    // The combined build cache (npm run db:generate) gets a folder of its own: cache:generate clears
    // its folder first, and temp/ holds the per-entity cache running tests and scripts are reading.
    return {
      ...config,
      metadataCache: { ...config.metadataCache, options: { cacheDir: resolve(__dirname, 'temp', 'build') } },
    };
  }
  return crybConfig({ clientUrl: await resolveDatabaseUrl(undefined, { embedded: SOURCE_CHECKOUT }) });
};
