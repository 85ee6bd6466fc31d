import type { HealthReport } from './types';

export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function duration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return d ? `${d}d ${h}h ${m}m` : h ? `${h}h ${m}m` : `${m}m ${Math.floor(seconds % 60)}s`;
}

const MARK = { ok: 'ok  ', warning: 'WARN', critical: 'CRIT' } as const;

/** The report for a person at a terminal: the verdict first, then each section. */
export function formatHealthReport(report: HealthReport): string {
  const lines: string[] = [`database health: ${report.status.toUpperCase()} (${report.target}, ${report.checkedAt})`];
  if (!report.reachable) {
    lines.push(`  ${report.error}`);
    return lines.join('\n');
  }
  const s = report.server!;
  const c = report.connections!;
  const ratio = report.cacheHitRatio;
  lines.push(
    `server      ${s.version.split(' on ')[0]}, ` +
      `up ${duration(s.uptimeSeconds)}${s.inRecovery ? ' (replica, in recovery)' : ''}`,
    `database    ${s.database}, ${formatBytes(s.databaseSizeBytes)}`,
    `connections ${c.total}/${c.max} (${c.active} active, ${c.idle} idle, ${c.idleInTransaction} idle in transaction)`,
    `cache hit   ${ratio === null || ratio === undefined ? 'n/a' : `${(ratio * 100).toFixed(2)}%`}`,
  );
  if (report.metrics) lines.push(`throughput  ${report.metrics.transactionsPerSecond} transactions/s`);
  const list = (title: string, rows: string[], empty: string) => {
    lines.push('', title);
    lines.push(...(rows.length ? rows.map((r) => `  ${r}`) : [`  ${empty}`]));
  };
  list(
    'largest tables',
    (report.largestTables ?? []).map(
      (t) => `${t.name}  ${formatBytes(t.bytes)} (indexes ${formatBytes(t.indexBytes)}, ~${t.rowEstimate} rows)`,
    ),
    'none',
  );
  list(
    'largest indexes',
    (report.largestIndexes ?? []).map((i) => `${i.name} on ${i.table}  ${formatBytes(i.bytes)}`),
    'none',
  );
  list(
    'unused indexes (no scans since stats reset; unique ones excluded)',
    (report.unusedIndexes ?? []).map((i) => `${i.name} on ${i.table}  ${formatBytes(i.bytes)}`),
    'none',
  );
  list(
    'sequential-scan heavy tables',
    (report.seqScanHeavyTables ?? []).map(
      (t) => `${t.name}  ${t.seqScans} seq / ${t.indexScans} index scans, ${t.liveRows} rows`,
    ),
    'none',
  );
  list(
    'long-running statements',
    (report.longRunning ?? []).map((x) => `pid ${x.pid} ${x.seconds}s: ${x.query}`),
    'none',
  );
  list(
    'idle in transaction',
    (report.idleInTransaction ?? []).map((x) => `pid ${x.pid} ${x.seconds}s: ${x.query}`),
    'none',
  );
  const locks = report.locks!;
  list(
    `locks (${locks.waiting} waiting)`,
    locks.blocked.map((b) => `pid ${b.pid} blocked by ${b.blockedBy.join(', ')} for ${b.seconds}s: ${b.query}`),
    'no blocked queries',
  );
  const r = report.replication!;
  list(
    `replication (${r.role})`,
    r.role === 'replica'
      ? [
          'last replayed transaction ' +
            (r.replayDelaySeconds === null ? 'unknown' : `${r.replayDelaySeconds.toFixed(1)}s ago`),
        ]
      : r.replicas.map(
          (x) =>
            `${x.applicationName} ${x.state}, ${x.lagBytes ?? '?'} bytes, ` +
            `${(x.replayLagSeconds ?? 0).toFixed(2)}s behind`,
        ),
    'no replicas connected',
  );
  const a = report.archiving;
  if (a) {
    list(
      'wal archiving',
      a.mode === 'off'
        ? ['archive_mode off: no point-in-time recovery (pg_dump backups only)']
        : [
            `archive_mode ${a.mode}: ${a.archived} archived ` +
              `(last ${a.lastArchivedWal ?? 'none'} at ${a.lastArchivedAt ?? '-'}), ${a.failed} failed`,
          ],
      '',
    );
  }
  const st = report.slowestStatements!;
  list(
    'slowest statements (mean)',
    st.available
      ? st.statements.map((x) => `${x.meanMs.toFixed(2)} ms x ${x.calls}: ${x.query.replace(/\s+/g, ' ')}`)
      : [`unavailable: ${st.reason}`],
    'none recorded',
  );
  const ts = report.timescale!;
  list(
    'timescaledb',
    'version' in ts
      ? [
          `version ${ts.version}`,
          ...ts.hypertables.map(
            (h) =>
              `${h.name}: ${h.chunks} chunks, compression ` +
              (h.compressionEnabled ? (h.ratio ? `${h.ratio.toFixed(1)}x` : 'on, nothing compressed yet') : 'off'),
          ),
          ...ts.jobs.map(
            (j) =>
              `job ${j.id} ${j.application}: ${j.jobStatus ?? 'unknown'}, last ` +
              `run ${j.lastRunStatus ?? 'never'}, ${j.totalFailures} failures, ` +
              `next ${j.nextStart ?? '-'}${j.lastError ? `; last error: ${j.lastError}` : ''}`,
          ),
        ]
      : [`not present: ${ts.reason}`],
    'none',
  );
  const m = report.migrations!;
  list(
    'migrations',
    'pending' in m
      ? [m.pending.length ? `pending: ${m.pending.join(', ')}` : `${m.executed} applied, none pending`]
      : [`unknown: ${m.reason}`],
    '',
  );
  lines.push('', 'findings');
  for (const f of report.findings) lines.push(`  ${MARK[f.level]} ${f.check}: ${f.message}`);
  return lines.join('\n');
}
