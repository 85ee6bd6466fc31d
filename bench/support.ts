/** What every bench shares: a scratch database, percentiles, and a description of the machine. */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { Client } from 'pg';
import { resolveDatabaseUrl } from '../src/db/config';

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export const round3 = (n: number) => Math.round(n * 1000) / 1000;

export interface ScratchDatabase {
  url: string;
  /** The server's version, for the report. */
  serverVersion(): Promise<string>;
  drop(): Promise<void>;
}

/**
 * A fresh database on DATABASE_URL's server, or on the embedded one (started when needed). The
 * caller migrates it and must call drop().
 */
export async function scratchDatabase(prefix: string): Promise<ScratchDatabase> {
  const baseUrl = await resolveDatabaseUrl((line) => console.error(line));
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: withDatabase(baseUrl, 'postgres') });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  return {
    url: withDatabase(baseUrl, name),
    serverVersion: async () =>
      (await admin.query<{ server_version: string }>('show server_version')).rows[0].server_version,
    drop: async () => {
      await admin.query(`drop database if exists "${name}" with (force)`);
      await admin.end();
    },
  };
}

export function machine(postgres: string) {
  const cpuList = cpus();
  return {
    cpus: cpuList.length,
    cpuModel: cpuList[0]?.model ?? 'unknown',
    node: process.version,
    postgres,
    server: process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded',
    loadAverageAtEnd: loadavg().map(round3),
  };
}

/** The ORM's log lines go to stderr, so stdout carries the JSON report alone. */
export const toStderr = (message: string) => console.error(message);
