export type HealthLevel = 'ok' | 'warning' | 'critical';

/** Exit codes for health checks (Docker HEALTHCHECK, Kubernetes probes, Nagios-style monitors). */
export const EXIT_CODES: Record<HealthLevel, number> = { ok: 0, warning: 1, critical: 2 };

/** Every limit the report judges by; each can be overridden (CLI: --name=value). */
export interface HealthThresholds {
  /** Connections in use as a share of max_connections. */
  connectionsWarning: number;
  connectionsCritical: number;
  /** Buffer cache hit ratio of the database (below these it is a finding). */
  cacheHitWarning: number;
  cacheHitCritical: number;
  /** A statement running longer than this, in seconds. */
  longRunningWarningSeconds: number;
  longRunningCriticalSeconds: number;
  /** A session idle inside an open transaction longer than this, in seconds (it holds locks and blocks vacuum). */
  idleInTransactionWarningSeconds: number;
  idleInTransactionCriticalSeconds: number;
  /** Sessions waiting on a lock for longer than this many seconds. */
  blockedWarningSeconds: number;
  blockedCriticalSeconds: number;
  /** Replica replay lag, in seconds. */
  replicationLagWarningSeconds: number;
  replicationLagCriticalSeconds: number;
  /** Tables smaller than this (live rows) are never called sequential-scan heavy. */
  seqScanMinRows: number;
  /** How many rows the top lists (largest tables and indexes, slowest statements) hold. */
  top: number;
  /** Milliseconds between the two samples transactions per second is computed from (0: since stats reset). */
  tpsSampleMs: number;
}

export const DEFAULT_THRESHOLDS: HealthThresholds = {
  connectionsWarning: 0.8,
  connectionsCritical: 0.95,
  cacheHitWarning: 0.99,
  cacheHitCritical: 0.9,
  longRunningWarningSeconds: 60,
  longRunningCriticalSeconds: 600,
  idleInTransactionWarningSeconds: 30,
  idleInTransactionCriticalSeconds: 300,
  blockedWarningSeconds: 5,
  blockedCriticalSeconds: 60,
  replicationLagWarningSeconds: 10,
  replicationLagCriticalSeconds: 120,
  seqScanMinRows: 10_000,
  top: 5,
  tpsSampleMs: 1000,
};

/** The figures a SystemMetrics row holds (the analytics entity records them). */
export interface SystemMetricsSample {
  timestamp: Date;
  databaseSizeBytes: number;
  connections: number;
  activeConnections: number;
  maxConnections: number;
  /** null when the database has not read a block yet. */
  cacheHitRatio: number | null;
  transactionsPerSecond: number;
}

export interface Finding {
  level: HealthLevel;
  check: string;
  message: string;
}

export interface SessionInfo {
  pid: number;
  user: string | null;
  database: string | null;
  state: string | null;
  seconds: number;
  query: string;
}

export interface BlockedSession extends SessionInfo {
  blockedBy: number[];
}

export interface RelationSize {
  name: string;
  bytes: number;
}

export interface TableStats {
  name: string;
  seqScans: number;
  indexScans: number;
  liveRows: number;
}

export interface ReplicaStatus {
  applicationName: string;
  clientAddress: string | null;
  state: string;
  lagBytes: number | null;
  replayLagSeconds: number | null;
}

export interface StatementStats {
  query: string;
  calls: number;
  meanMs: number;
  totalMs: number;
}

export interface TimescaleReport {
  version: string;
  hypertables: {
    name: string;
    chunks: number;
    compressionEnabled: boolean;
    beforeBytes: number | null;
    afterBytes: number | null;
    ratio: number | null;
  }[];
  jobs: {
    id: number;
    application: string;
    hypertable: string | null;
    jobStatus: string | null;
    lastRunStatus: string | null;
    totalFailures: number;
    lastRunStartedAt: string | null;
    nextStart: string | null;
    /** The message of the job's latest failure (timescaledb_information.job_errors), if any. */
    lastError: string | null;
  }[];
}

export interface HealthReport {
  status: HealthLevel;
  reachable: boolean;
  checkedAt: string;
  /** The URL checked, password masked. */
  target: string;
  /** Why the server could not be reached, when it could not. */
  error?: string;
  server?: {
    version: string;
    versionNumber: number;
    startedAt: string;
    uptimeSeconds: number;
    database: string;
    databaseSizeBytes: number;
    inRecovery: boolean;
  };
  connections?: {
    total: number;
    active: number;
    idle: number;
    idleInTransaction: number;
    max: number;
    reservedForSuperuser: number;
    ratio: number;
  };
  cacheHitRatio?: number | null;
  largestTables?: (RelationSize & { tableBytes: number; indexBytes: number; rowEstimate: number })[];
  largestIndexes?: (RelationSize & { table: string })[];
  unusedIndexes?: (RelationSize & { table: string })[];
  seqScanHeavyTables?: TableStats[];
  longRunning?: SessionInfo[];
  idleInTransaction?: SessionInfo[];
  locks?: { waiting: number; blocked: BlockedSession[] };
  replication?: { role: 'primary' | 'replica'; replicas: ReplicaStatus[]; replayDelaySeconds: number | null };
  /** WAL archiving, the base of point-in-time recovery (the operator configures it; see README). */
  archiving?: {
    mode: string;
    archived: number;
    lastArchivedWal: string | null;
    lastArchivedAt: string | null;
    failed: number;
    lastFailedAt: string | null;
  };
  slowestStatements?: { available: true; statements: StatementStats[] } | { available: false; reason: string };
  timescale?: TimescaleReport | { available: false; reason: string };
  migrations?: { executed: number; pending: string[] } | { available: false; reason: string };
  metrics?: SystemMetricsSample;
  findings: Finding[];
}
