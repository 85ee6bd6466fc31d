/**
 * Progress on stderr: a bar with rate and ETA on a TTY, plain lines (at most one every 2 s, plus
 * each phase's end) otherwise, so CI logs stay readable.
 */
export class Progress {
  private started = performance.now();
  private lastLine = 0;
  private phaseStarted = performance.now();
  private readonly tty: boolean;

  private readonly write: ((line: string) => void) | null;

  /** Without a sink: stderr (a bar when it is a TTY). A sink gets plain lines; null: silent. */
  constructor(sink?: ((line: string) => void) | null) {
    this.write = sink === undefined ? (line) => process.stderr.write(line) : sink;
    this.tty = sink === undefined && Boolean(process.stderr.isTTY);
  }

  phase(name: string): void {
    this.phaseStarted = performance.now();
    this.line(`${name}...`, true);
  }

  /** `done` of `total` units (rows) in the current phase. */
  tick(name: string, done: number, total: number): void {
    const now = performance.now();
    const seconds = (now - this.phaseStarted) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    const eta = rate > 0 ? (total - done) / rate : 0;
    const pct = total > 0 ? Math.min(100, (100 * done) / total) : 100;
    if (this.tty) {
      const width = 28;
      const filled = Math.round((pct / 100) * width);
      this.write?.(
        `\r${name.padEnd(10)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct.toFixed(1).padStart(5)}% ` +
          `${fmt(done)}/${fmt(total)} ${fmt(rate)}/s ETA ${eta.toFixed(0)}s   `,
      );
      if (done >= total) this.write?.('\n');
      return;
    }
    if (done < total && now - this.lastLine < 2000) return;
    this.lastLine = now;
    this.line(`${name}: ${fmt(done)}/${fmt(total)} (${pct.toFixed(1)}%), ${fmt(rate)} rows/s, ETA ${eta.toFixed(0)} s`);
  }

  line(text: string, force = false): void {
    if (!this.write) return;
    if (!force) this.lastLine = performance.now();
    this.write(`[seed ${((performance.now() - this.started) / 1000).toFixed(1)}s] ${text}\n`);
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
