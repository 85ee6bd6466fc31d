import { Client, type ClientConfig } from 'pg';
import { EVENTS_CHANNEL } from '../entities/events/DomainEventRepository';
import { connectTimeoutMs } from './connection-check';

export interface EventListener {
  /**
   * Resolves when a NOTIFY arrives (or arrived since the last wait), when `timeoutMs` passes, or when
   * `signal` aborts, whichever is first.
   */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<'notified' | 'timeout' | 'aborted'>;
  /** False once the listening connection has failed or been closed; waits then only time out. */
  isAlive(): boolean;
  close(): Promise<void>;
}

/**
 * LISTENs on the outbox channel with a dedicated connection. Notifications are hints: they only
 * say "poll now". A consumer that misses one (a dropped connection, say) still catches up on its
 * next timed poll, so delivery never depends on them.
 */
export interface ListenOptions {
  /** Called with each notification's payload (the id of an event that committed: a hint only). */
  onNotification?: (payload: string) => void;
}

export async function listenForEvents(
  connection: string | ClientConfig,
  options: ListenOptions = {},
): Promise<EventListener> {
  const client = new Client(
    typeof connection === 'string'
      ? { connectionString: connection, connectionTimeoutMillis: connectTimeoutMs() }
      : { connectionTimeoutMillis: connectTimeoutMs(), ...connection },
  );
  await client.connect();
  let pending = false;
  let alive = true;
  const waiters = new Set<() => void>();
  client.on('notification', (message) => {
    if (message.channel !== EVENTS_CHANNEL) return;
    pending = true;
    options.onNotification?.(message.payload ?? '');
    for (const wake of [...waiters]) wake();
  });
  // A broken listening connection must not crash the process; timed polls carry on without it.
  const dead = () => {
    alive = false;
  };
  client.on('error', dead);
  client.on('end', dead);
  await client.query(`listen "${EVENTS_CHANNEL}"`);
  return {
    wait: (timeoutMs, signal) => {
      if (pending) {
        pending = false;
        return Promise.resolve('notified');
      }
      if (signal?.aborted) return Promise.resolve('aborted');
      return new Promise((resolve) => {
        const finish = (outcome: 'notified' | 'timeout' | 'aborted') => {
          clearTimeout(timer);
          waiters.delete(onNotify);
          signal?.removeEventListener('abort', onAbort);
          if (outcome === 'notified') pending = false;
          resolve(outcome);
        };
        const onNotify = () => finish('notified');
        const onAbort = () => finish('aborted');
        const timer = setTimeout(() => finish('timeout'), timeoutMs);
        waiters.add(onNotify);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
    isAlive: () => alive,
    close: async () => {
      alive = false;
      for (const wake of [...waiters]) wake();
      await client.end().catch(() => undefined);
    },
  };
}
