import { execFileSync } from 'node:child_process';
import { inject } from 'vitest';

export interface TimescaleProbe {
  available: boolean;
  version: string | null;
  /** Why not, for skip messages. */
  reason: string;
}

const PROBE = `
const { Client } = require('pg');
const c = new Client({ connectionString: process.argv[1] });
c.connect()
  .then(() => c.query(\`select (select default_version from pg_available_extensions where name = 'timescaledb')
                               as version,
                        current_setting('shared_preload_libraries') ~ 'timescaledb' as preloaded\`))
  .then((r) => { process.stdout.write(JSON.stringify(r.rows[0])); return c.end(); })
  .catch((e) => { console.error(e.message); process.exit(1); });`;

/**
 * Whether the test server can use TimescaleDB (installed and preloaded: pg_available_extensions and
 * shared_preload_libraries). Synchronous (a child process), because skipIf needs the answer while
 * vitest collects the tests.
 */
export function timescaleOnServer(): TimescaleProbe {
  const out = execFileSync(process.execPath, ['-e', PROBE, inject('adminUrl')], { encoding: 'utf8' });
  const { version, preloaded } = JSON.parse(out) as { version: string | null; preloaded: boolean };
  const available = version !== null && preloaded;
  const reason =
    version === null
      ? 'timescaledb not available on this server'
      : !preloaded
        ? 'timescaledb not in shared_preload_libraries'
        : '';
  return { available, version, reason };
}
