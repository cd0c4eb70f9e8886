/**
 * Time-series charts of a run as one self-contained SVG (no script, no external font or style),
 * written next to the results and linked from the Markdown: stacked panels sharing the x axis
 * (seconds into the run), each with its own y scale and legend.
 */

/** One line of a panel: `[seconds, value]` points. */
export interface Series {
  name: string;
  points: readonly (readonly [number, number])[];
}

/** One panel. */
export interface Panel {
  title: string;
  unit: string;
  series: readonly Series[];
}

const WIDTH = 900;
const PANEL_HEIGHT = 190;
const MARGIN = { left: 70, right: 20, top: 28, bottom: 26 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A "nice" upper bound for an axis: 1, 2 or 5 × 10^n at or above `max`. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

const label = (v: number) => (v >= 1e6 ? `${+(v / 1e6).toFixed(1)}M` : v >= 1e4 ? `${+(v / 1e3).toFixed(0)}k` : `${+v.toFixed(v < 10 ? 1 : 0)}`);

/** The SVG of `panels` over `[0, xMax]` seconds, under `title`. */
export function timeChart(title: string, panels: readonly Panel[], xMax: number): string {
  const height = 30 + panels.length * PANEL_HEIGHT;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom;
  const xm = niceMax(xMax);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="18" text-anchor="middle" font-size="14">${esc(title)}</text>`,
  ];
  panels.forEach((panel, k) => {
    const top = 30 + k * PANEL_HEIGHT + MARGIN.top;
    const max = niceMax(Math.max(0, ...panel.series.flatMap((s) => s.points.map((p) => p[1]))));
    const x = (t: number) => MARGIN.left + (t / xm) * plotW;
    const y = (v: number) => top + plotH - (v / max) * plotH;
    out.push(`<text x="${MARGIN.left}" y="${top - 8}" font-size="12" font-weight="bold">${esc(panel.title)} (${esc(panel.unit)})</text>`);
    out.push(`<rect x="${MARGIN.left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
    for (let i = 0; i <= 4; i++) {
      const v = (max * i) / 4;
      out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
      out.push(`<text x="${MARGIN.left - 4}" y="${y(v) + 4}" text-anchor="end">${label(v)}</text>`);
    }
    for (let i = 0; i <= 10; i++) {
      const t = (xm * i) / 10;
      out.push(`<text x="${x(t)}" y="${top + plotH + 14}" text-anchor="middle">${label(t)} s</text>`);
    }
    panel.series.forEach((s, j) => {
      const color = COLORS[j % COLORS.length] as string;
      if (s.points.length > 0) {
        const d = s.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join('');
        out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
      }
      const lx = MARGIN.left + plotW - 200;
      const ly = top + 12 + j * 14;
      out.push(`<line x1="${lx}" x2="${lx + 18}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`);
      out.push(`<text x="${lx + 24}" y="${ly}">${esc(s.name)}</text>`);
    });
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
