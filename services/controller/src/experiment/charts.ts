// The experiment's charts as inline SVG (no charting dependency, as run/report.ts): final held-out accuracy
// per algorithm and variant (bars at the mean, whiskers at ± one std over seeds, dots for single runs), and
// every run's held-out accuracy at its evaluations against the step, coloured by variant.
import type { Aggregate, RunRecord } from "./aggregate.js";

const COLOURS = ["#64748b", "#16a34a", "#2563eb", "#dc2626", "#9333ea", "#ea580c"];
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

function legend(variants: readonly string[], x: number, y: number): string {
  return variants
    .map((v, i) => `<rect x="${x}" y="${y + i * 16 - 9}" width="10" height="10" fill="${COLOURS[i % COLOURS.length]}"/><text x="${x + 14}" y="${y + i * 16}">${esc(v)}</text>`)
    .join("");
}

/** Bars: mean final held-out accuracy per (algorithm, variant), whiskers ± std, a dot per run. */
export function accuracyBars(agg: Aggregate, records: readonly RunRecord[], algorithms: readonly string[], variants: readonly string[]): string {
  const W = 640, H = 280, L = 50, B = 36, T = 28, R = 110;
  const values = [...agg.rows.flatMap((r) => [r.accuracyAfter.mean + r.accuracyAfter.std, r.accuracyBefore.mean]), ...records.map((r) => r.accuracyAfter)];
  const yMax = Math.min(1, Math.ceil((Math.max(0.1, ...values) + 0.05) * 10) / 10);
  const sy = (y: number) => H - B - (y / yMax) * (H - B - T);
  const groupW = (W - L - R) / Math.max(1, algorithms.length);
  const barW = Math.min(40, (groupW - 16) / variants.length);
  let out = "";
  for (let k = 0; k <= 4; k++) {
    const y = (yMax * k) / 4;
    out += `<line x1="${L}" x2="${W - R}" y1="${sy(y)}" y2="${sy(y)}" stroke="#eee"/><text x="${L - 6}" y="${sy(y) + 4}" text-anchor="end">${(100 * y).toFixed(0)}%</text>`;
  }
  algorithms.forEach((a, ai) => {
    const gx = L + ai * groupW + (groupW - barW * variants.length) / 2;
    out += `<text x="${L + ai * groupW + groupW / 2}" y="${H - B + 16}" text-anchor="middle">${esc(a)}</text>`;
    variants.forEach((v, vi) => {
      const row = agg.rows.find((r) => r.algorithm === a && r.variant === v);
      if (!row) return;
      const x = gx + vi * barW, c = COLOURS[vi % COLOURS.length], m = row.accuracyAfter.mean, s = row.accuracyAfter.std;
      out += `<rect x="${x + 2}" y="${sy(m)}" width="${barW - 4}" height="${H - B - sy(m)}" fill="${c}" fill-opacity="0.75"><title>${esc(`${a} ${v}: ${(100 * m).toFixed(1)} ± ${(100 * s).toFixed(1)}%`)}</title></rect>`;
      out += `<line x1="${x + barW / 2}" x2="${x + barW / 2}" y1="${sy(Math.min(yMax, m + s))}" y2="${sy(Math.max(0, m - s))}" stroke="#111"/>`;
      for (const r of records.filter((q) => q.algorithm === a && q.variant === v)) out += `<circle cx="${x + barW / 2}" cy="${sy(r.accuracyAfter)}" r="2.5" fill="#111"><title>seed ${r.seed}: ${(100 * r.accuracyAfter).toFixed(1)}%</title></circle>`;
    });
    const before = agg.rows.find((r) => r.algorithm === a)?.accuracyBefore.mean;
    if (before !== undefined) out += `<line x1="${gx - 4}" x2="${gx + barW * variants.length + 4}" y1="${sy(before)}" y2="${sy(before)}" stroke="#dc2626" stroke-dasharray="4 3"/>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">
<text x="${L}" y="16" font-size="13" font-weight="bold">Held-out accuracy after training (mean ± std over seeds; dashed: before)</text>${out}${legend(variants, W - R + 12, T + 14)}</svg>`;
}

/** Lines: each run's held-out accuracy at its evaluations, against the step (one panel per algorithm). */
export function accuracyCurves(records: readonly RunRecord[], algorithms: readonly string[], variants: readonly string[]): string {
  const PW = 300, H = 250, L = 46, B = 32, T = 40, R = 12;
  const all = records.flatMap((r) => r.evals);
  if (all.length === 0) return "";
  const xMax = Math.max(1, ...all.map((e) => e.step));
  const ys = all.map((e) => e.accuracy);
  const yMin = Math.max(0, Math.floor((Math.min(...ys) - 0.02) * 20) / 20), yMax = Math.min(1, Math.ceil((Math.max(...ys) + 0.02) * 20) / 20);
  const panels = algorithms.map((a, ai) => {
    const ox = ai * PW;
    const sx = (x: number) => ox + L + (x / xMax) * (PW - L - R);
    const sy = (y: number) => H - B - ((y - yMin) / (yMax - yMin || 1)) * (H - B - T);
    let p = `<text x="${ox + L}" y="${T - 8}" font-weight="bold">${esc(a)}</text>`;
    for (const y of [yMin, (yMin + yMax) / 2, yMax]) p += `<line x1="${ox + L}" x2="${ox + PW - R}" y1="${sy(y)}" y2="${sy(y)}" stroke="#eee"/><text x="${ox + L - 4}" y="${sy(y) + 4}" text-anchor="end">${(100 * y).toFixed(0)}%</text>`;
    p += `<text x="${ox + L}" y="${H - B + 14}">0</text><text x="${ox + PW - R}" y="${H - B + 14}" text-anchor="end">${xMax}</text><text x="${ox + (L + PW - R) / 2}" y="${H - 4}" text-anchor="middle">step</text>`;
    for (const r of records.filter((q) => q.algorithm === a)) {
      const c = COLOURS[Math.max(0, variants.indexOf(r.variant)) % COLOURS.length];
      const d = r.evals.map((e, i) => `${i ? "L" : "M"}${sx(e.step).toFixed(1)},${sy(e.accuracy).toFixed(1)}`).join(" ");
      p += `<path d="${d}" fill="none" stroke="${c}" stroke-width="1.5" stroke-opacity="0.8"><title>${esc(`${r.id}`)}</title></path>`;
    }
    return p;
  });
  const W = PW * algorithms.length + 110;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H + 10}" font-family="sans-serif" font-size="11">
<text x="${L}" y="12" font-size="13" font-weight="bold">Held-out accuracy during each run (one line per seed)</text>${panels.join("")}${legend(variants, W - 100, T + 14)}</svg>`;
}
