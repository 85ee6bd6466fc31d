import { Client } from 'pg';
import { EVENTS_CHANNEL } from '../entities/events/DomainEventRepository';

export interface EventListener {
  /** Resolves when a NOTIFY arrives or `timeoutMs` passes, whichever is first. */
  wait(timeoutMs: number): Promise<'notified' | 'timeout'>;
  close(): Promise<void>;
}

/**
 * LISTENs on the outbox channel with a dedicated connection. Notifications are hints: they only
 * say "poll now". A consumer that misses one (a dropped connection, say) still catches up on its
 * next timed poll, so delivery never depends on them.
 */
export async function listenForEvents(connectionString: string): Promise<EventListener> {
  const client = new Client({ connectionString });
  await client.connect();
  let pending = false;
  let wake: (() => void) | undefined;
  client.on('notification', (message) => {
    if (message.channel !== EVENTS_CHANNEL) return;
    pending = true;
    wake?.();
  });
  // A broken listening connection must not crash the process; timed polls carry on without it.
  client.on('error', () => undefined);
  await client.query(`listen "${EVENTS_CHANNEL}"`);
  return {
    wait: (timeoutMs) => {
      if (pending) {
        pending = false;
        return Promise.resolve('notified');
      }
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          wake = undefined;
          resolve('timeout');
        }, timeoutMs);
        wake = () => {
          clearTimeout(timer);
          wake = undefined;
          pending = false;
          resolve('notified');
        };
      });
    },
    close: async () => {
      wake?.();
      await client.end().catch(() => undefined);
    },
  };
}
