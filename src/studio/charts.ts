import { html, type Html } from './html';

/** Small inline SVG charts: no script, no library; numbers become coordinates, labels are escaped. */
export interface Point {
  label: string;
  values: number[];
}

export interface ChartSize {
  width: number;
  height: number;
}

/** Sized for a card of the dashboard's grid: about one viewBox unit per pixel, so text stays legible. */
export const CARD: ChartSize = { width: 340, height: 170 };
const PAD = { left: 30, right: 8, top: 10, bottom: 22 };

const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));

function niceMax(max: number): number {
  if (max <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(max));
  return Math.ceil(max / step) * step;
}

function frame(points: Point[], max: number, { width: W, height: H }: ChartSize): Html {
  const innerH = H - PAD.top - PAD.bottom;
  const ticks = [0, max / 2, max].map((v) => {
    const y = PAD.top + innerH - (v / max) * innerH;
    return html`<line class="grid" x1="${PAD.left}" x2="${W - PAD.right}" y1="${y}" y2="${y}" /><text
        x="${PAD.left - 4}"
        y="${y + 3}"
        text-anchor="end"
        >${fmt(v)}</text
      >`;
  });
  const every = Math.max(1, Math.ceil(points.length / Math.max(2, Math.floor(W / 60))));
  const innerW = W - PAD.left - PAD.right;
  const labels = points.map((p, i) =>
    i % every === 0
      ? html`<text x="${PAD.left + ((i + 0.5) * innerW) / points.length}" y="${H - 6}" text-anchor="middle"
          >${p.label}</text
        >`
      : '',
  );
  return html`${ticks}${labels}`;
}

function legend(series: string[]): Html {
  return html`<div class="legend">${series.map((s, i) => html`<i class="c${i}"></i>${s}`)}</div>`;
}

const totalOf = (points: Point[]) => points.reduce((sum, p) => sum + p.values.reduce((a, b) => a + b, 0), 0);

/** One line per series over the points (hourly activity). */
export function lineChart(points: Point[], series: string[], size: ChartSize = CARD): Html {
  const { width: W, height: H } = size;
  if (points.length === 0) return html`<p class="empty">no data in this period</p>`;
  const max = niceMax(Math.max(...points.flatMap((p) => p.values)));
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const x = (i: number) => PAD.left + ((i + 0.5) * innerW) / points.length;
  const y = (v: number) => PAD.top + innerH - (v / max) * innerH;
  const lines = series.map((name, s) => {
    const d = points
      .map((p, i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(p.values[s] ?? 0).toFixed(1)}`)
      .join(' ');
    const dots = points.map(
      (p, i) =>
        html`<circle class="d${s}" cx="${x(i).toFixed(1)}" cy="${y(p.values[s] ?? 0).toFixed(1)}" r="2.5"
          ><title>${p.label}: ${fmt(p.values[s] ?? 0)} ${name}</title></circle
        >`,
    );
    return html`<path class="s${s}" d="${d}" />${dots}`;
  });
  return html`<svg
      class="chart"
      viewBox="0 0 ${W} ${H}"
      role="img"
      data-points="${points.length}"
      data-total="${totalOf(points)}"
    >
      ${frame(points, max, size)}${lines}</svg
    >${legend(series)}`;
}

/** Grouped vertical bars, one group per point (days). */
export function barChart(points: Point[], series: string[], size: ChartSize = CARD): Html {
  const { width: W, height: H } = size;
  if (points.length === 0) return html`<p class="empty">no data in this period</p>`;
  const max = niceMax(Math.max(...points.flatMap((p) => p.values)));
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const group = innerW / points.length;
  const bar = Math.max(1, (group * 0.8) / series.length);
  const bars = points.map((p, i) =>
    series.map((name, s) => {
      const v = p.values[s] ?? 0;
      const h = (v / max) * innerH;
      return html`<rect
        class="b${s}"
        x="${(PAD.left + i * group + group * 0.1 + s * bar).toFixed(1)}"
        y="${(PAD.top + innerH - h).toFixed(1)}"
        width="${bar.toFixed(1)}"
        height="${h.toFixed(1)}"
        ><title>${p.label}: ${fmt(v)} ${name}</title></rect
      >`;
    }),
  );
  return html`<svg
      class="chart"
      viewBox="0 0 ${W} ${H}"
      role="img"
      data-points="${points.length}"
      data-total="${totalOf(points)}"
    >
      ${frame(points, max, size)}${bars}</svg
    >${legend(series)}`;
}

/** Horizontal bars with a label each (top channels). */
export function rankChart(
  rows: { label: string; value: number; href?: string }[],
  unit: string,
  { width: W }: ChartSize = CARD,
): Html {
  if (rows.length === 0) return html`<p class="empty">no data in this period</p>`;
  const max = niceMax(Math.max(...rows.map((r) => r.value)));
  const rowH = 22;
  const height = rows.length * rowH + 4;
  const labelW = Math.round(W * 0.32);
  const bars = rows.map((r, i) => {
    const w = ((W - labelW - 40) * r.value) / max;
    const label = html`<text x="${labelW - 6}" y="${i * rowH + 15}" text-anchor="end"
      >${r.label.length > 16 ? `${r.label.slice(0, 15)}…` : r.label}</text
    >`;
    return html`${r.href ? html`<a href="${r.href}">${label}</a>` : label}<rect
        class="b0"
        x="${labelW}"
        y="${i * rowH + 4}"
        width="${w.toFixed(1)}"
        height="${rowH - 8}"
        ><title>${r.label}: ${fmt(r.value)} ${unit}</title></rect
      ><text x="${(labelW + w + 4).toFixed(1)}" y="${i * rowH + 15}">${fmt(r.value)}</text>`;
  });
  return html`<svg
    class="chart"
    viewBox="0 0 ${W} ${height}"
    role="img"
    data-points="${rows.length}"
    data-total="${rows.reduce((a, r) => a + r.value, 0)}"
  >
    ${bars}
  </svg>`;
}
