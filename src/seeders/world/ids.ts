import { CRYB_EPOCH_MS } from '../../domain/snowflake';

/**
 * Snowflakes for seeded rows: the time part is the row's (historic) creation time, and the 17 bits
 * below it (worker 31's process and increment bits) count within the millisecond. So a seeded world's
 * ids are a pure function of the scenario, the seed and the run's anchor time: a resumed run
 * regenerates the same ids, and live ids (other workers) never collide with them.
 */
const SEED_NODE = 31n << 17n;
const PER_MS = 1 << 17;

export class SeedIds {
  private lastMs = -1;
  private count = 0;

  at(ms: number): string {
    let t = Math.floor(ms);
    if (t < this.lastMs) t = this.lastMs;
    if (t === this.lastMs) {
      if (++this.count >= PER_MS) {
        t += 1;
        this.count = 0;
      }
    } else {
      this.count = 0;
    }
    this.lastMs = t;
    return (((BigInt(t) - CRYB_EPOCH_MS) << 22n) | SEED_NODE | BigInt(this.count)).toString();
  }
}
