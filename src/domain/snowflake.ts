/**
 * Snowflake ids, laid out as Discord's: 42 bits of milliseconds since the CRYB epoch, 5 bits worker,
 * 5 bits process, 12 bits increment. Generated in entity constructors, so the unit of work can batch
 * inserts without a round trip per row, and history can page by id.
 */
export const CRYB_EPOCH_MS = 1_704_067_200_000n; // 2024-01-01T00:00:00Z

const MAX_INCREMENT = 0xfffn;

export class SnowflakeGenerator {
  private lastMs = -1n;
  private increment = 0n;
  private readonly node: bigint;

  constructor(workerId: number, processId: number) {
    if (!Number.isInteger(workerId) || workerId < 0 || workerId > 31) throw new RangeError('workerId must be 0-31');
    if (!Number.isInteger(processId) || processId < 0 || processId > 31) throw new RangeError('processId must be 0-31');
    this.node = (BigInt(workerId) << 17n) | (BigInt(processId) << 12n);
  }

  next(nowMs: number = Date.now()): string {
    let ms = BigInt(nowMs) - CRYB_EPOCH_MS;
    // A clock that steps back must not produce an id below one already handed out.
    if (ms < this.lastMs) ms = this.lastMs;
    if (ms === this.lastMs) {
      this.increment = (this.increment + 1n) & MAX_INCREMENT;
      // 4096 ids in one millisecond: borrow the next millisecond rather than repeat an id.
      if (this.increment === 0n) ms += 1n;
    } else {
      this.increment = 0n;
    }
    this.lastMs = ms;
    return ((ms << 22n) | this.node | this.increment).toString();
  }
}

const envWorker = Number(process.env.CRYB_WORKER_ID ?? 0);
const defaultGenerator = new SnowflakeGenerator(
  Number.isInteger(envWorker) && envWorker >= 0 && envWorker <= 31 ? envWorker : 0,
  process.pid % 32,
);

export function nextSnowflake(): string {
  return defaultGenerator.next();
}

export function snowflakeTimestamp(id: string): Date {
  return new Date(Number((BigInt(id) >> 22n) + CRYB_EPOCH_MS));
}

/** The smallest snowflake at or after a moment: a cursor for "messages since". */
export function snowflakeAt(date: Date): string {
  return ((BigInt(date.getTime()) - CRYB_EPOCH_MS) << 22n).toString();
}

export function isSnowflake(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9]{1,20}$/.test(value) && BigInt(value) < 2n ** 63n;
}

export function compareSnowflakes(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
