import { crybConfig, resolveDatabaseUrl } from './src/db/config';

/**
 * The one config, for the mikro-orm CLI and the npm scripts: DATABASE_URL, or the embedded server
 * (started on demand) when it is unset.
 */
export default async () => crybConfig({ clientUrl: await resolveDatabaseUrl() });
