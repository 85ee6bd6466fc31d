/** One bar per hour. Rows from `dashboard().hourly` or `messageActivity(..., { bucket: 'hour' })` fit. */
export interface ChartRow {
  hour?: Date;
  bucket?: Date;
  messages: number;
}

/**
 * A terminal bar chart of messages per hour, one line per hour (UTC), hours without rows shown
 * empty so gaps are visible. Pure: the demo prints what it returns.
 */
export function renderHourlyChart(rows: readonly ChartRow[], options: { width?: number; title?: string } = {}): string {
  const width = Math.max(1, options.width ?? 40);
  const points = rows
    .map((r) => ({ at: (r.hour ?? r.bucket)!, messages: r.messages }))
    .filter((p) => p.at instanceof Date && !Number.isNaN(p.at.getTime()))
    .sort((a, b) => a.at.getTime() - b.at.getTime());
  const lines = options.title ? [options.title] : [];
  if (points.length === 0) return [...lines, '(no activity)'].join('\n');
  const byHour = new Map<number, number>();
  for (const p of points) {
    const hour = Math.floor(p.at.getTime() / 3_600_000) * 3_600_000;
    byHour.set(hour, (byHour.get(hour) ?? 0) + p.messages);
  }
  const first = Math.min(...byHour.keys());
  const last = Math.max(...byHour.keys());
  const max = Math.max(...byHour.values(), 1);
  const digits = String(max).length;
  for (let hour = first; hour <= last; hour += 3_600_000) {
    const value = byHour.get(hour) ?? 0;
    const eighths = Math.round((value / max) * width * 8);
    const bar = '█'.repeat(Math.floor(eighths / 8)) + (eighths % 8 ? '▏▎▍▌▋▊▉'[(eighths % 8) - 1] : '');
    const label = new Date(hour).toISOString().slice(5, 16).replace('T', ' ');
    lines.push(`${label} │${bar.padEnd(width + 1)} ${String(value).padStart(digits)}`);
  }
  return lines.join('\n');
}
