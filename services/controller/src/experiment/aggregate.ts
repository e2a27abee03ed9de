// An experiment's numbers: one record per finished run, aggregated per (algorithm, variant) as mean ± std
// over seeds, and each variant compared with the baseline variant seed by seed (paired: same seed, same
// prompt order and sampling streams at the start). Pure: the command reads and writes the files.
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
    difference: stat(pairs.map((p) => p.d)), wins: pairs.filter((p) => p.d > 0).length, losses: pairs.filter((p) => p.d < 0).length,
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

/** The results as Markdown tables (held-out accuracies in percent). */
export function markdownTables(agg: Aggregate): string {
  const head = [
    "| algorithm | variant | seeds | held-out before (%) | held-out after (%) | gain (points) | greedy after (%) | steps | groups generated | rollout tokens | wall s |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  const rows = agg.rows.map(
    (r) =>
      `| ${r.algorithm} | ${r.variant} | ${r.seeds.length} | ${pct(r.accuracyBefore)} | **${pct(r.accuracyAfter)}** | ${signedPct(r.gain)} | ${pct(r.greedyAfter)} | ${num(r.steps, 1)} | ${num(r.groups)} | ${num(r.generatedTokens)} | ${num(r.wallSeconds)} |`,
  );
  const cmpHead = [
    "| algorithm | comparison | paired seeds | difference in held-out after (points) | seeds better / worse |",
    "| --- | --- | ---: | ---: | ---: |",
  ];
  const cmp = agg.comparisons.map(
    (c) => `| ${c.algorithm} | ${c.variant} − ${c.baseline} | ${c.seeds.length} | ${signedPct(c.difference)} | ${c.wins} / ${c.losses} |`,
  );
  return [...head, ...rows, "", ...cmpHead, ...cmp].join("\n") + "\n";
}
