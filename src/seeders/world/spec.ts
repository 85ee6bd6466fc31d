/** The three worlds: sizes only. Everything else (laws, ratios) is shared by generate.ts. */
export type ScenarioName = 'small' | 'default' | 'large';

export interface ScenarioSpec {
  name: ScenarioName;
  users: number;
  servers: number;
  /** Guild channels per server (categories, text, announcement, voice). */
  channelsPerServer: number;
  /** Server sizes follow size(rank) = max(minMembers, maxMembers / (rank + 1) ^ 0.8). */
  maxMembers: number;
  minMembers: number;
  messages: number;
  threadsPerServer: number;
  dms: number;
  groupDms: number;
  /** Closed voice sessions in the history (open ones mirror the voice states). */
  voiceSessions: number;
  /** Analytics history: days, and how many of a server's text channels and busiest members it covers. */
  analytics: { days: number; channels: number; users: number };
  /** Rows per COPY batch (and per progress tick / resume point for messages). */
  chunk: number;
  /** The domain-method showcase (a DM, a group DM, a thread, reactions through the services). */
  showcase: boolean;
  /** Drop the big tables' secondary indexes and autovacuum during the message load (bulk-mode.ts). */
  bulkMode: boolean;
}

export const SCENARIOS: Record<ScenarioName, ScenarioSpec> = {
  small: {
    name: 'small',
    users: 20,
    servers: 2,
    channelsPerServer: 8,
    maxMembers: 16,
    minMembers: 10,
    messages: 400,
    threadsPerServer: 1,
    dms: 6,
    groupDms: 1,
    voiceSessions: 40,
    analytics: { days: 7, channels: 2, users: 8 },
    chunk: 5_000,
    showcase: true,
    bulkMode: false,
  },
  default: {
    name: 'default',
    users: 100,
    servers: 10,
    channelsPerServer: 10,
    maxMembers: 70,
    minMembers: 12,
    messages: 5_000,
    threadsPerServer: 2,
    dms: 40,
    groupDms: 5,
    voiceSessions: 600,
    analytics: { days: 14, channels: 2, users: 10 },
    chunk: 10_000,
    showcase: true,
    bulkMode: false,
  },
  large: {
    name: 'large',
    users: 10_000,
    servers: 100,
    channelsPerServer: 50,
    maxMembers: 5_000,
    minMembers: 40,
    messages: 1_000_000,
    threadsPerServer: 5,
    dms: 3_000,
    groupDms: 300,
    voiceSessions: 50_000,
    analytics: { days: 7, channels: 3, users: 15 },
    chunk: 100_000,
    showcase: false,
    bulkMode: true,
  },
};

export function scenarioNamed(name: string): ScenarioSpec {
  const spec = SCENARIOS[name as ScenarioName];
  if (!spec) throw new Error(`unknown scenario "${name}": one of ${Object.keys(SCENARIOS).join(', ')}`);
  return spec;
}
