/**
 * Two small SVG charts written without dependencies: grouped vertical bars
 * (throughput by concurrency) and horizontal p50 bars with a p95 whisker
 * (latencies).
 */

const PALETTE = ['#9aa5b1', '#5b8def', '#e8833a', '#3fa66a', '#a05fd0', '#d64545'];
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v) => (v >= 1000 ? `${Math.round(v)}` : v >= 10 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2));

/** A "nice" upper bound for an axis. */
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** The first lines of a chart W × H: the svg element, a white background, the title and subtitle at x = `left`. */
function chartStart(W, H, left, title, subtitle) {
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${left}" y="24" font-size="16" font-weight="600">${esc(title)}</text>`,
  ];
  if (subtitle) out.push(`<text x="${left}" y="44" fill="#555">${esc(subtitle)}</text>`);
  return out;
}

/**
 * Grouped vertical bars.
 * @param {{ title: string, subtitle?: string, categories: string[], series: { name: string, values: number[] }[], yLabel: string }} o
 */
export function groupedBars({ title, subtitle = '', categories, series, yLabel }) {
  const W = 760;
  const H = 400;
  const m = { top: 64, right: 20, bottom: 70, left: 70 };
  const iw = W - m.left - m.right;
  const ih = H - m.top - m.bottom;
  const max = niceMax(Math.max(...series.flatMap((s) => s.values)));
  const groupW = iw / categories.length;
  const barW = Math.min(42, (groupW * 0.8) / series.length);
  const y = (v) => m.top + ih - (v / max) * ih;
  const out = chartStart(W, H, m.left, title, subtitle);
  for (let k = 0; k <= 5; k++) {
    const v = (max * k) / 5;
    out.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${fmt(v)}</text>`);
  }
  out.push(`<text transform="translate(18 ${m.top + ih / 2}) rotate(-90)" text-anchor="middle" fill="#333">${esc(yLabel)}</text>`);
  categories.forEach((cat, ci) => {
    const gx = m.left + ci * groupW + (groupW - barW * series.length) / 2;
    series.forEach((s, si) => {
      const v = s.values[ci];
      const x = gx + si * barW;
      out.push(`<rect x="${x + 2}" y="${y(v)}" width="${barW - 4}" height="${m.top + ih - y(v)}" fill="${PALETTE[si % PALETTE.length]}"><title>${esc(s.name)}: ${fmt(v)}</title></rect>`);
      out.push(`<text x="${x + barW / 2}" y="${y(v) - 4}" text-anchor="middle" font-size="10" fill="#333">${fmt(v)}</text>`);
    });
    out.push(`<text x="${m.left + ci * groupW + groupW / 2}" y="${m.top + ih + 18}" text-anchor="middle" fill="#333">${esc(cat)}</text>`);
  });
  out.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${m.top + ih}" y2="${m.top + ih}" stroke="#333"/>`);
  let lx = m.left;
  series.forEach((s, si) => {
    out.push(`<rect x="${lx}" y="${H - 26}" width="12" height="12" fill="${PALETTE[si % PALETTE.length]}"/>`);
    out.push(`<text x="${lx + 16}" y="${H - 16}" fill="#333">${esc(s.name)}</text>`);
    lx += 26 + s.name.length * 6.6;
  });
  out.push('</svg>');
  return out.join('\n');
}

/**
 * Horizontal bars: p50 as the bar, p95 as a whisker, optional goal line.
 * @param {{ title: string, subtitle?: string, rows: { label: string, p50: number, p95: number, group?: number }[], unit: string, goal?: { value: number, label: string } }} o
 */
export function latencyBars({ title, subtitle = '', rows, unit, goal }) {
  const W = 760;
  const rowH = 26;
  const m = { top: 64, right: 70, bottom: 44, left: 250 };
  const H = m.top + rows.length * rowH + m.bottom;
  const iw = W - m.left - m.right;
  const max = niceMax(Math.max(...rows.map((r) => r.p95), goal?.value ?? 0));
  const x = (v) => m.left + (v / max) * iw;
  const out = chartStart(W, H, 16, title, subtitle);
  for (let k = 0; k <= 5; k++) {
    const v = (max * k) / 5;
    out.push(`<line x1="${x(v)}" x2="${x(v)}" y1="${m.top - 6}" y2="${m.top + rows.length * rowH}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${x(v)}" y="${m.top + rows.length * rowH + 16}" text-anchor="middle" fill="#555">${fmt(v)}</text>`);
  }
  out.push(`<text x="${m.left + iw / 2}" y="${H - 8}" text-anchor="middle" fill="#333">${esc(unit)} (bar: p50, whisker: p95)</text>`);
  rows.forEach((r, i) => {
    const cy = m.top + i * rowH + rowH / 2;
    const color = PALETTE[(r.group ?? i) % PALETTE.length];
    out.push(`<text x="${m.left - 8}" y="${cy + 4}" text-anchor="end" fill="#333">${esc(r.label)}</text>`);
    out.push(`<rect x="${m.left}" y="${cy - 8}" width="${Math.max(1, x(r.p50) - m.left)}" height="16" fill="${color}"><title>${esc(r.label)}: p50 ${fmt(r.p50)}, p95 ${fmt(r.p95)}</title></rect>`);
    out.push(`<line x1="${x(r.p50)}" x2="${x(r.p95)}" y1="${cy}" y2="${cy}" stroke="#333"/>`);
    out.push(`<line x1="${x(r.p95)}" x2="${x(r.p95)}" y1="${cy - 5}" y2="${cy + 5}" stroke="#333"/>`);
    out.push(`<text x="${x(r.p95) + 6}" y="${cy + 4}" font-size="10" fill="#333">${fmt(r.p50)} / ${fmt(r.p95)}</text>`);
  });
  if (goal) {
    out.push(`<line x1="${x(goal.value)}" x2="${x(goal.value)}" y1="${m.top - 10}" y2="${m.top + rows.length * rowH}" stroke="#d64545" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${x(goal.value) + 4}" y="${m.top - 12}" fill="#d64545">${esc(goal.label)}</text>`);
  }
  out.push(`<line x1="${m.left}" x2="${m.left}" y1="${m.top - 6}" y2="${m.top + rows.length * rowH}" stroke="#333"/>`);
  out.push('</svg>');
  return out.join('\n');
}
