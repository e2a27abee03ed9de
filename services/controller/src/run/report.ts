// The demo's report: a few lines on the terminal and `report.html` in the run directory with the
// held-out accuracy curve, the reward curve, and the distribution of per-prompt mean response lengths with
// the LSPO thresholds drawn on it. Plain inline SVG: no charting dependency, opens anywhere.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { readJsonl } from "./jsonl.js";
import type { Summary } from "./summary.js";

export interface Judged {
  length: number;
  outcome: string;
}

const esc = (s: string) => s.replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" })[c]!);

function lineChart(title: string, points: Array<[number, number]>, yLabel: string, yMin: number, yMax: number): string {
  const W = 560, H = 220, L = 50, B = 30, T = 24, R = 16;
  if (points.length === 0) return `<p>${esc(title)}: no data</p>`;
  const xs = points.map((p) => p[0]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1);
  const sx = (x: number) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y: number) => H - B - ((y - yMin) / (yMax - yMin || 1)) * (H - B - T);
  const path = points.map((p, i) => `${i ? "L" : "M"}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" ");
  const dots = points.map((p) => `<circle cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="3"/>`).join("");
  const ticks = [yMin, (yMin + yMax) / 2, yMax]
    .map((y) => `<text x="${L - 6}" y="${sy(y) + 4}" text-anchor="end">${y.toFixed(2)}</text><line x1="${L}" x2="${W - R}" y1="${sy(y)}" y2="${sy(y)}" stroke="#eee"/>`)
    .join("");
  return `<svg width="${W}" height="${H}" font-family="sans-serif" font-size="11"><text x="${L}" y="14" font-size="13" font-weight="bold">${esc(title)}</text>${ticks}
<path d="${path}" fill="none" stroke="#2563eb" stroke-width="2"/><g fill="#2563eb">${dots}</g>
<text x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle">step</text><text x="12" y="${(H - B + T) / 2}" transform="rotate(-90 12 ${(H - B + T) / 2})" text-anchor="middle">${esc(yLabel)}</text>
<text x="${L}" y="${H - B + 14}">${x0}</text><text x="${W - R}" y="${H - B + 14}" text-anchor="end">${x1}</text></svg>`;
}

function histogram(judged: Judged[], thresholds: { low: number; high: number; max: number } | null): string {
  const W = 560, H = 240, L = 50, B = 30, T = 24, R = 16;
  const lengths = judged.filter((j) => !["all-correct", "all-wrong", "duplicate", "stale"].includes(j.outcome)).map((j) => j.length);
  if (lengths.length === 0) return "<p>No survivors of the accuracy filter were judged.</p>";
  const lo = Math.floor(Math.min(...lengths)), hi = Math.ceil(Math.max(...lengths)) + 1;
  const bins = Math.min(30, Math.max(5, hi - lo));
  const width = (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  const kept = new Array<number>(bins).fill(0);
  const keptOutcomes = new Set(["short", "long", "unfiltered", "warm-up-kept"]);
  for (const j of judged) {
    if (["all-correct", "all-wrong", "duplicate", "stale"].includes(j.outcome)) continue;
    const b = Math.min(bins - 1, Math.floor((j.length - lo) / width));
    counts[b]++;
    if (keptOutcomes.has(j.outcome)) kept[b]++;
  }
  const cmax = Math.max(...counts, 1);
  const sx = (x: number) => L + ((x - lo) / (hi - lo)) * (W - L - R);
  const sy = (c: number) => H - B - (c / cmax) * (H - B - T);
  const bars = counts
    .map((c, i) => {
      const x = sx(lo + i * width), w = Math.max(1, sx(lo + (i + 1) * width) - x - 1);
      return `<rect x="${x}" y="${sy(c)}" width="${w}" height="${H - B - sy(c)}" fill="#cbd5e1"/><rect x="${x}" y="${sy(kept[i])}" width="${w}" height="${H - B - sy(kept[i])}" fill="#16a34a"/>`;
    })
    .join("");
  const lines = thresholds
    ? (["low", "high", "max"] as const)
        .map((k) => `<line x1="${sx(thresholds[k])}" x2="${sx(thresholds[k])}" y1="${T}" y2="${H - B}" stroke="#dc2626" stroke-dasharray="4 3"/><text x="${sx(thresholds[k]) + 3}" y="${T + 10}" fill="#dc2626">Q(${k}) ${thresholds[k].toFixed(1)}</text>`)
        .join("")
    : "";
  return `<svg width="${W}" height="${H}" font-family="sans-serif" font-size="11"><text x="${L}" y="14" font-size="13" font-weight="bold">Per-prompt mean response length L(q) of accuracy-filter survivors (green: kept)</text>
${bars}${lines}<text x="${L}" y="${H - B + 14}">${lo}</text><text x="${W - R}" y="${H - B + 14}" text-anchor="end">${hi} tokens</text></svg>`;
}

export function writeReport(dir: string, s: Summary): { html: string; lines: string[] } {
  const judged = readJsonl<Judged>(join(dir, "sampler.jsonl"));
  const updates = readJsonl<{ event: string; step: number; thresholds?: { low: number; high: number; max: number } | null }>(join(dir, "metrics.jsonl")).filter(
    (r) => r.event === "update",
  );
  const last = [...updates].reverse().find((u) => u.thresholds)?.thresholds ?? null;
  const accuracy = s.evals.map((e) => [e.step, e.accuracy] as [number, number]);
  const reward = s.rewardCurve.map((r) => [r.step, r.reward] as [number, number]);
  const rewards = reward.map((r) => r[1]);
  const pct = (x: number | null) => (x === null ? "-" : `${(100 * x).toFixed(1)}%`);
  const judgedTotal = s.generated || 1;
  const byReason = Object.entries(s.dropped).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${((100 * v) / judgedTotal).toFixed(0)}%`);
  const tokensPerSecond = s.rolloutTokens / Math.max(1, s.wallSeconds);
  const sampled = s.sampled_accuracy_before !== null && s.sampled_accuracy_after !== null;
  const lines = [
    ...(sampled ? [`held-out accuracy (sampled at T=${s.temperature}, ${s.evalPrompts} problems): ${pct(s.sampled_accuracy_before)} -> ${pct(s.sampled_accuracy_after)}${s.accuracy_metric === "sampled" ? " (the run's metric)" : ""}`] : []),
    `held-out accuracy (greedy, ${s.evalPrompts} problems): ${pct(s.greedy_accuracy_before)} -> ${pct(s.greedy_accuracy_after)}${s.accuracy_metric === "greedy" ? " (the run's metric)" : ""}`,
    `trained ${s.evals[0]?.step ?? 0} -> ${s.steps} steps, ${s.algorithm}${s.lengthFilter ? " + LSPO" : ""}`,
    `reward per update: ${rewards.length ? `${rewards[0].toFixed(2)} -> ${rewards[rewards.length - 1].toFixed(2)} (mean of last 5: ${(rewards.slice(-5).reduce((a, b) => a + b, 0) / Math.min(5, rewards.length)).toFixed(2)})` : "-"}`,
    `kept by the filters: ${((100 * s.kept) / judgedTotal).toFixed(0)}% of ${s.generated} groups; dropped: ${byReason.join(", ") || "none"}`,
    `trained tokens/s: ${tokensPerSecond.toFixed(0)}; wall time ${s.wallSeconds.toFixed(0)} s; lost ${s.lost}, duplicates ${s.duplicates}, restarts ${s.restarts}`,
  ];
  const html = `<!doctype html><meta charset="utf-8"><title>lspo run ${esc(s.run)}</title>
<style>body{font-family:sans-serif;max-width:1200px;margin:24px}pre{background:#f8fafc;padding:12px}</style>
<h1>lspo run <code>${esc(s.run)}</code></h1><pre>${lines.map(esc).join("\n")}</pre>
${lineChart("Held-out accuracy (greedy)", accuracy, "accuracy", 0, 1)}
${sampled ? lineChart(`Held-out accuracy (sampled at T=${s.temperature})`, s.evals.map((e) => [e.step, e.sampledAccuracy ?? 0] as [number, number]), "accuracy", 0, 1) : ""}
${lineChart("Mean reward of trained groups", reward, "reward", Math.min(0, ...rewards), Math.max(1, ...rewards))}
${histogram(judged, last)}
<p>Run directory: <code>${esc(dir)}</code>; the numbers come from <code>summary.json</code> and <code>metrics.jsonl</code>.</p>`;
  const path = join(dir, "report.html");
  writeFileSync(path, html);
  return { html: path, lines };
}
