/** @cryb/database/ops: health report, backups and restores, the cryb-db CLI, the embedded development server. */
export { healthReport, evaluate, type HealthOptions } from './health/report';
export { formatHealthReport, formatBytes } from './health/format';
export {
  DEFAULT_THRESHOLDS,
  EXIT_CODES,
  type HealthLevel,
  type HealthReport,
  type HealthThresholds,
  type SystemMetricsSample,
  type Finding,
} from './health/types';
export {
  backupDatabase,
  restoreBackup,
  listBackups,
  type BackupOptions,
  type BackupResult,
  type BackupFile,
  type RestoreOptions,
  type RestoreResult,
  type RestorePlan,
} from './backup';
export { findPgTool, requirePgTool, MissingToolError, type PgTool } from './pg-tools';
export { main as runCli } from './cli';
export { EXIT, explainFailure } from './failure';
export {
  EmbeddedServer,
  EmbeddedServerError,
  projectEmbeddedServer,
  DEFAULT_EMBEDDED_PORT,
  type EmbeddedServerOptions,
} from '../db/embedded-server';
export { runMaintenance, formatMaintenance, type MaintenanceReport, type MaintenanceStep } from './maintain';
