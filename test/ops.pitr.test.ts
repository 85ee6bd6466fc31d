import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { healthReport } from '../src/ops/health/report';
import { Cluster, missingClusterBinaries, ownedTempDir } from './support/clusters';

/**
 * Point-in-time recovery as the README tells an operator to set it up: WAL archiving on the
 * primary, a base backup, and a recovery to a moment just before a mistake. The package does not
 * drive this (it is the server's own machinery); the test proves the documented steps work.
 */

const skipReason = missingClusterBinaries
  ? ` (skipped: ${missingClusterBinaries} not found; install postgresql-15 and postgresql-client-15)`
  : '';
const clusters: Cluster[] = [];
const folders: string[] = [];
afterAll(async () => {
  for (const cluster of clusters) await cluster.destroy();
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(Boolean(missingClusterBinaries))(`point-in-time recovery from archived WAL${skipReason}`, () => {
  it('recovers to the moment before a mistaken delete: rows written after the base backup are back, the delete is not', async () => {
    const archive = ownedTempDir('cryb-wal-archive-');
    folders.push(archive);
    const primary = await Cluster.primary({
      archive_mode: 'on',
      archive_command: `'test ! -f ${archive}/%f && cp %p ${archive}/%f'`,
    });
    clusters.push(primary);
    await primary.sql(`create table ledger (id int primary key, note text)`);
    await primary.sql(`insert into ledger values (1, 'before the base backup')`);
    const base = await Cluster.baseBackupOf(primary);
    await primary.sql(`insert into ledger values (2, 'after the base backup')`);
    await sleep(1100);
    const [{ target }] = await primary.sql<{ target: string }>(`select now()::text as target`);
    await sleep(1100);
    await primary.sql(`delete from ledger`);
    const [{ segment }] = await primary.sql<{ segment: string }>(`select pg_walfile_name(pg_switch_wal()) as segment`);
    for (let i = 0; !existsSync(join(archive, segment)); i++) {
      if (i > 200) throw new Error(`WAL segment ${segment} was never archived`);
      await sleep(50);
    }

    const health = await healthReport({ url: primary.url(), thresholds: { tpsSampleMs: 0 } });
    expect(health.archiving).toMatchObject({ mode: 'on', failed: 0 });
    expect(health.archiving!.archived).toBeGreaterThanOrEqual(1);
    expect(health.findings).toContainEqual(expect.objectContaining({ check: 'wal archiving', level: 'ok' }));
    await primary.stop();

    const restored = await Cluster.recoverFrom(base, {
      restore_command: `'cp ${archive}/%f %p'`,
      recovery_target_time: `'${target}'`,
      recovery_target_action: 'promote',
    });
    clusters.push(restored);
    for (let i = 0; (await restored.sql<{ r: boolean }>('select pg_is_in_recovery() as r'))[0].r; i++) {
      if (i > 300) throw new Error('the recovered cluster never finished recovery');
      await sleep(50);
    }
    expect(await restored.sql('select id, note from ledger order by id')).toEqual([
      { id: 1, note: 'before the base backup' },
      { id: 2, note: 'after the base backup' },
    ]);
  });
});
