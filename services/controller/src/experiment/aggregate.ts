// An experiment's numbers: one record per finished run, aggregated per (algorithm, variant) as mean ± std
// over seeds, and each variant compared with the baseline variant seed by seed (paired: same seed, same
// prompt order and sampling streams at the start), with a 95% t-interval on the mean paired difference.
// Pure: the command reads and writes the files.
import tQuantile from "@stdlib/stats-base-dists-t-quantile";
import type { Summary } from "../run/summary.js";

export interface RunRecord {
  id: string;
  algorithm: string;
  variant: string;
  seed: number;
  dir: string;
  /** The run's headline held-out accuracy (eval.metric), before and after. */
  accuracyBefore: number;
  accuracyAfter: number;
  /** Greedy held-out accuracy after training (the same as accuracyAfter when the metric is greedy). */
  greedyAfter: number;
  steps: number;
  /** Prompts (rollout groups) generated and judged: the generation budget actually spent. */
  groups: number;
  /** Response tokens generated for those groups. */
  generatedTokens: number;
  /** Response tokens trained on. */
  trainedTokens: number;
  kept: number;
  wallSeconds: number;
  /** Fractions of trained tokens whose ratio was clipped below / above / by the dual clip (null: not recorded). */
  clipLow: number | null;
  clipHigh: number | null;
  clipDual: number | null;
  evals: Array<{ step: number; accuracy: number }>;
}

export function recordOf(run: { id: string; algorithm: string; variant: string; seed: number }, s: Summary): RunRecord {
  if (s.accuracy_before === null || s.accuracy_after === null) throw new Error(`run ${run.id}: summary.json has no held-out evaluation`);
  return {
    ...run,
    dir: s.dir,
    accuracyBefore: s.accuracy_before,
    accuracyAfter: s.accuracy_after,
    greedyAfter: s.greedy_accuracy_after ?? s.accuracy_after,
    steps: s.steps,
    groups: s.generated,
    generatedTokens: s.generatedTokens,
    trainedTokens: s.rolloutTokens,
    kept: s.kept,
    wallSeconds: s.wallSeconds,
    // Summaries written before the field existed have none: those runs show "-", not 0.
    clipLow: s.training?.clip_frac_low ?? null,
    clipHigh: s.training?.clip_frac_high ?? null,
    clipDual: s.training?.clip_frac_dual ?? null,
    // The curve in the headline metric, like accuracyBefore/After.
    evals: s.evals.map((e) => ({ step: e.step, accuracy: s.accuracy_metric === "sampled" ? (e.sampledAccuracy ?? e.accuracy) : e.accuracy })),
  };
}

/** Mean and sample standard deviation (n - 1; 0 for a single value). */
export interface Stat {
  mean: number;
  std: number;
  n: number;
}

export function stat(xs: readonly number[]): Stat {
  const n = xs.length;
  if (n === 0) return { mean: NaN, std: NaN, n: 0 };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n };
}

/**
 * Two-sided 95% confidence interval of a mean from its sample statistics (Student's t with n - 1 degrees
 * of freedom: the seeds are few, so the normal 1.96 would be too narrow). Null below two values.
 */
export function ci95(s: Stat): { low: number; high: number } | null {
  if (s.n < 2) return null;
  const half = tQuantile(0.975, s.n - 1) * (s.std / Math.sqrt(s.n));
  return { low: s.mean - half, high: s.mean + half };
}

/** A stat over the values present: runs without the figure are left out (n says how many had it). */
function statPresent(xs: ReadonlyArray<number | null>): Stat {
  return stat(xs.filter((x): x is number => x !== null));
}

export interface CellRow {
  algorithm: string;
  variant: string;
  seeds: number[];
  accuracyBefore: Stat;
  accuracyAfter: Stat;
  gain: Stat;
  greedyAfter: Stat;
  steps: Stat;
  groups: Stat;
  generatedTokens: Stat;
  wallSeconds: Stat;
  clipLow: Stat;
  clipHigh: Stat;
  clipDual: Stat;
}

export interface Comparison {
  /** A base algorithm, or "all": every algorithm's pairs pooled. */
  algorithm: string;
  variant: string;
  baseline: string;
  /** Seeds with both runs finished (repeated once per algorithm in the pooled "all" row). */
  seeds: number[];
  /** (variant - baseline) final held-out accuracy, per seed, then mean ± std. */
  difference: Stat;
  /** 95% t-interval of the mean difference (null with fewer than two pairs). */
  ci95: { low: number; high: number } | null;
  wins: number;
  losses: number;
}

export interface Aggregate {
  rows: CellRow[];
  comparisons: Comparison[];
}

/** `variants` in the experiment's order; the first is the baseline. Cells without runs are left out. */
export function aggregate(records: readonly RunRecord[], algorithms: readonly string[], variants: readonly string[]): Aggregate {
  const rows: CellRow[] = [];
  const comparisons: Comparison[] = [];
  const pooled = new Map<string, Array<{ seed: number; d: number }>>();
  const compare = (algorithm: string, variant: string, pairs: Array<{ seed: number; d: number }>): Comparison => ({
    algorithm, variant, baseline: variants[0], seeds: pairs.map((p) => p.seed),
    difference: stat(pairs.map((p) => p.d)), ci95: ci95(stat(pairs.map((p) => p.d))), wins: pairs.filter((p) => p.d > 0).length, losses: pairs.filter((p) => p.d < 0).length,
  });
  const cell = (a: string, v: string) => records.filter((r) => r.algorithm === a && r.variant === v).sort((x, y) => x.seed - y.seed);
  for (const a of algorithms) {
    for (const v of variants) {
      const rs = cell(a, v);
      if (rs.length === 0) continue;
      const of = (f: (r: RunRecord) => number) => stat(rs.map(f));
      rows.push({
        algorithm: a, variant: v, seeds: rs.map((r) => r.seed),
        accuracyBefore: of((r) => r.accuracyBefore), accuracyAfter: of((r) => r.accuracyAfter), gain: of((r) => r.accuracyAfter - r.accuracyBefore),
        greedyAfter: of((r) => r.greedyAfter),
        steps: of((r) => r.steps), groups: of((r) => r.groups), generatedTokens: of((r) => r.generatedTokens), wallSeconds: of((r) => r.wallSeconds),
        clipLow: statPresent(rs.map((r) => r.clipLow)), clipHigh: statPresent(rs.map((r) => r.clipHigh)), clipDual: statPresent(rs.map((r) => r.clipDual)),
      });
    }
    const baseline = new Map(cell(a, variants[0]).map((r) => [r.seed, r]));
    for (const v of variants.slice(1)) {
      const pairs = cell(a, v).filter((r) => baseline.has(r.seed)).map((r) => ({ seed: r.seed, d: r.accuracyAfter - baseline.get(r.seed)!.accuracyAfter }));
      if (pairs.length === 0) continue;
      comparisons.push(compare(a, v, pairs));
      pooled.set(v, [...(pooled.get(v) ?? []), ...pairs]);
    }
  }
  // Every algorithm's pairs together: does the variant help across base algorithms?
  if (algorithms.length > 1) for (const [v, pairs] of pooled) comparisons.push(compare("all", v, pairs));
  return { rows, comparisons };
}

const pct = (s: Stat) => `${(100 * s.mean).toFixed(1)} ± ${(100 * s.std).toFixed(1)}`;
const signedPct = (s: Stat) => `${s.mean >= 0 ? "+" : ""}${(100 * s.mean).toFixed(1)} ± ${(100 * s.std).toFixed(1)}`;
const num = (s: Stat, digits = 0) => s.mean.toFixed(digits);
const signed = (x: number) => `${x >= 0 ? "+" : ""}${(100 * x).toFixed(1)}`;
const interval = (c: Comparison) => (c.ci95 ? `[${signed(c.ci95.low)}, ${signed(c.ci95.high)}]` : "-");
// Clip fractions are small: percent of trained tokens with two decimals; "-" where no run recorded them.
const clipPct = (s: Stat) => (s.n === 0 ? "-" : (100 * s.mean).toFixed(2));

/** The results as Markdown tables (held-out accuracies in percent). */
export function markdownTables(agg: Aggregate): string {
  const head = [
    "| algorithm | variant | seeds | held-out before (%) | held-out after (%) | gain (points) | greedy after (%) | steps | groups generated | rollout tokens | clipped low / high / dual (% of tokens) | wall s |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  const rows = agg.rows.map(
    (r) =>
      `| ${r.algorithm} | ${r.variant} | ${r.seeds.length} | ${pct(r.accuracyBefore)} | **${pct(r.accuracyAfter)}** | ${signedPct(r.gain)} | ${pct(r.greedyAfter)} | ${num(r.steps, 1)} | ${num(r.groups)} | ${num(r.generatedTokens)} | ${clipPct(r.clipLow)} / ${clipPct(r.clipHigh)} / ${clipPct(r.clipDual)} | ${num(r.wallSeconds)} |`,
  );
  const cmpHead = [
    "| algorithm | comparison | paired seeds | difference in held-out after (points) | 95% interval (points) | seeds better / worse |",
    "| --- | --- | ---: | ---: | ---: | ---: |",
  ];
  const cmp = agg.comparisons.map(
    (c) => `| ${c.algorithm} | ${c.variant} − ${c.baseline} | ${c.seeds.length} | ${signedPct(c.difference)} | ${interval(c)} | ${c.wins} / ${c.losses} |`,
  );
  return [...head, ...rows, "", ...cmpHead, ...cmp].join("\n") + "\n";
}
