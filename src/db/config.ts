import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GeneratedCacheAdapter, type MetadataProvider, type Constructor } from '@mikro-orm/core';
import { defineConfig, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { SeedManager } from '@mikro-orm/seeder';
import { ENTITIES } from '../entities';
import { DomainEventRecorder } from './event-recorder';
import { CrybNamingStrategy } from './naming';
import { projectEmbeddedServer } from './embedded-server';

/** src/ when running TypeScript, dist/src/ when running the compiled package. */
const SOURCE_DIR = resolve(__dirname, '..');
const RUNNING_TYPESCRIPT = __filename.endsWith('.ts');
const METADATA_CACHE = resolve(SOURCE_DIR, '..', 'metadata.json');

export const EMBEDDED_DATABASE = 'cryb';

export interface CrybOrmOptions {
  /** postgresql:// URL; defaults to DATABASE_URL, else the embedded server (started on demand). */
  clientUrl?: string;
  /** Connections in the pool; defaults to DATABASE_POOL_SIZE or 10. */
  poolSize?: number;
  debug?: boolean;
}

function metadataOptions(): Partial<Options> {
  if (RUNNING_TYPESCRIPT || !existsSync(METADATA_CACHE)) {
    // ts-morph reads the types (Opt, Ref<T>, unions) that decorators alone cannot express.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { TsMorphMetadataProvider } = require('@mikro-orm/reflection') as { TsMorphMetadataProvider: Constructor<MetadataProvider> };
    return { metadataProvider: TsMorphMetadataProvider, metadataCache: { enabled: true, options: { cacheDir: resolve(process.cwd(), 'temp') } } };
  }
  // The compiled package carries the metadata ts-morph produced at build time, so it needs no TypeScript.
  return {
    metadataCache: { enabled: true, adapter: GeneratedCacheAdapter, options: { data: require(METADATA_CACHE) } },
  };
}

/** The package's MikroORM options for a known database URL. */
export function crybConfig(options: CrybOrmOptions & { clientUrl: string }): Options {
  const poolSize = options.poolSize ?? Number(process.env.DATABASE_POOL_SIZE ?? 10);
  return defineConfig({
    clientUrl: options.clientUrl,
    entities: ENTITIES,
    namingStrategy: CrybNamingStrategy,
    allowGlobalContext: false,
    forceUtcTimezone: true,
    pool: { min: 0, max: poolSize },
    subscribers: [new DomainEventRecorder()],
    extensions: [Migrator, SeedManager],
    preferTs: RUNNING_TYPESCRIPT,
    // Under vitest a CommonJS package would require() TypeScript migrations; import() lets vite load them.
    dynamicImportProvider: (id: string) => import(id),
    migrations: {
      path: join(SOURCE_DIR, 'migrations'),
      pathTs: join(SOURCE_DIR, 'migrations'),
      glob: '!(*.d).{js,ts}',
      tableName: 'mikro_orm_migrations',
      transactional: true,
      allOrNothing: true,
      snapshot: true,
      snapshotName: '.snapshot-cryb',
      emit: 'ts',
    },
    seeder: {
      path: join(SOURCE_DIR, 'seeders'),
      pathTs: join(SOURCE_DIR, 'seeders'),
      glob: '!(*.d).{js,ts}',
      defaultSeeder: 'DatabaseSeeder',
      emit: 'ts',
    },
    debug: options.debug ?? process.env.CRYB_DEBUG_SQL === '1',
    ...metadataOptions(),
  });
}

/**
 * The database URL to use: DATABASE_URL when set, else the project's embedded server, which is
 * started when it is not running yet.
 */
export async function resolveDatabaseUrl(log: (line: string) => void = (line) => console.error(line)): Promise<string> {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  const server = projectEmbeddedServer(process.cwd(), log);
  const status = await server.status();
  if (!status.running) log(await server.start());
  await server.ensureDatabase(EMBEDDED_DATABASE);
  return server.urlFor(EMBEDDED_DATABASE);
}
