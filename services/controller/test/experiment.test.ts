// `lspo experiment`'s logic without running training: the experiment file's validation, its expansion into
// run configs, the mean ± std / paired-difference aggregation (hand-computed numbers), the Markdown table
// and the charts; plus the controller's generation-budget helpers. No run starts here.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { aggregate, ci95, markdownTables, stat, type RunRecord } from "../src/experiment/aggregate.js";
import { archiveExperiment } from "../src/experiment/archive.js";
import { accuracyBars, accuracyCurves } from "../src/experiment/charts.js";
import { ExperimentConfigError, loadExperiment, parseExperiment, planRuns } from "../src/experiment/config.js";
import { run } from "../src/commands/experiment.js";
import { resolveConfig } from "@lspo/config";
import { batchesAhead, batchesSettled, batchesWaiting, train } from "../src/run/controller.js";
import { generatedTokens, trainingMetrics } from "../src/run/summary.js";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";

const repoRoot = path.resolve(import.meta.dirname, "../../..");
const scratch = mkdtempSync(path.join(tmpdir(), "lspo-experiment-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function rec(algorithm: string, variant: string, seed: number, after: number, extra: Partial<RunRecord> = {}): RunRecord {
  return {
    id: `${algorithm}-${variant}-s${seed}`, algorithm, variant, seed, dir: "/x", accuracyBefore: 0.3, accuracyAfter: after, greedyAfter: after - 0.1,
    steps: 10, groups: 100, generatedTokens: 20_000, trainedTokens: 5_000, kept: 40, wallSeconds: 60,
    clipLow: 0.01, clipHigh: 0.002, clipDual: 0, evals: [{ step: 0, accuracy: 0.3 }, { step: 10, accuracy: after }], ...extra,
  };
}

describe("experiment aggregation", () => {
  it("stat: mean and sample std (n - 1), 0 for one value, NaN for none", () => {
    const s = stat([0.3, 0.5, 0.4]);
    expect(s.mean).toBeCloseTo(0.4, 15);
    expect(s.std).toBeCloseTo(0.1, 15); // sqrt((0.01 + 0.01 + 0) / 2)
    expect(stat([0.7])).toEqual({ mean: 0.7, std: 0, n: 1 });
    expect(stat([]).n).toBe(0);
    expect(stat([1, 2, 3, 4]).std).toBeCloseTo(Math.sqrt(5 / 3), 15);
  });

  it("aggregates per (algorithm, variant) and pairs variants with the baseline seed by seed", () => {
    const records = [
      rec("dapo", "base", 1, 0.40, { steps: 10, groups: 100, wallSeconds: 50 }),
      rec("dapo", "base", 2, 0.44, { steps: 12, groups: 100, wallSeconds: 70 }),
      rec("dapo", "lspo", 1, 0.45, { steps: 6, groups: 100, generatedTokens: 21_000 }),
      rec("dapo", "lspo", 2, 0.43, { steps: 8, groups: 100, generatedTokens: 23_000 }),
      rec("gspo", "base", 1, 0.35),
      rec("gspo", "lspo", 1, 0.38),
      rec("gspo", "lspo", 2, 0.50), // no baseline for seed 2: not paired
    ];
    const agg = aggregate(records, ["dapo", "gspo"], ["base", "lspo"]);
    expect(agg.rows.map((r) => `${r.algorithm}/${r.variant}/${r.seeds.join(",")}`)).toEqual(["dapo/base/1,2", "dapo/lspo/1,2", "gspo/base/1", "gspo/lspo/1,2"]);
    const dapoBase = agg.rows[0];
    expect(dapoBase.accuracyAfter.mean).toBeCloseTo(0.42, 12);
    expect(dapoBase.accuracyAfter.std).toBeCloseTo(Math.sqrt(0.0008), 12); // deviations ±0.02, n-1 = 1
    expect(dapoBase.gain.mean).toBeCloseTo(0.12, 12);
    expect(dapoBase.steps.mean).toBe(11);
    expect(dapoBase.wallSeconds.mean).toBe(60);
    expect(agg.rows[1].generatedTokens.mean).toBe(22_000);

    const dapo = agg.comparisons.find((c) => c.algorithm === "dapo")!;
    expect(dapo.seeds).toEqual([1, 2]);
    expect(dapo.difference.mean).toBeCloseTo(0.02, 12); // (+0.05 - 0.01) / 2
    expect(dapo.difference.std).toBeCloseTo(Math.sqrt(0.0018), 12); // deviations ±0.03
    expect([dapo.wins, dapo.losses]).toEqual([1, 1]);
    const gspo = agg.comparisons.find((c) => c.algorithm === "gspo")!;
    expect(gspo.seeds).toEqual([1]);
    expect(gspo.difference.mean).toBeCloseTo(0.03, 12);
    const all = agg.comparisons.find((c) => c.algorithm === "all")!;
    expect(all.seeds).toEqual([1, 2, 1]);
    expect(all.difference.mean).toBeCloseTo((0.05 - 0.01 + 0.03) / 3, 12);
    expect([all.wins, all.losses]).toEqual([2, 1]);
  });

  it("writes the Markdown tables with percentages and signed paired differences", () => {
    const agg = aggregate([rec("dapo", "base", 1, 0.4), rec("dapo", "base", 2, 0.44), rec("dapo", "lspo", 1, 0.45), rec("dapo", "lspo", 2, 0.43)], ["dapo"], ["base", "lspo"]);
    const md = markdownTables(agg);
    expect(md).toContain("| dapo | base | 2 | 30.0 ± 0.0 | **42.0 ± 2.8** | +12.0 ± 2.8 | 32.0 ± 2.8 | 10.0 | 100 | 20000 | 1.00 / 0.20 / 0.00 | 60 |");
    // mean 0.02, std sqrt(0.0018) = 0.0424, n 2: half width t(0.975, 1) 12.706 x 0.0424 / sqrt(2) = 0.3812
    expect(md).toContain("| dapo | lspo − base | 2 | +2.0 ± 4.2 | [-36.1, +40.1] | 1 / 1 |");
    expect(md).not.toContain("| all |"); // one algorithm: no pooled row
  });

  it("ci95: Student's t interval of the mean (t(0.975, 4) = 2.776), none below two values", () => {
    const ci = ci95(stat([0.01, 0.03, -0.01, 0.02, 0.0]))!; // mean 0.01, std sqrt(0.00025)
    const half = 2.7764451051977987 * Math.sqrt(0.00025) / Math.sqrt(5);
    expect(ci.low).toBeCloseTo(0.01 - half, 12);
    expect(ci.high).toBeCloseTo(0.01 + half, 12);
    expect(ci95(stat([0.5]))).toBeNull();
  });

  it("clip fractions per cell over the runs that recorded them; '-' where none did", () => {
    const agg = aggregate([rec("dapo", "base", 1, 0.4, { clipHigh: 0.004 }), rec("dapo", "base", 2, 0.4, { clipHigh: 0.002 }), rec("gspo", "base", 1, 0.4, { clipLow: null, clipHigh: null, clipDual: null })], ["dapo", "gspo"], ["base"]);
    expect(agg.rows[0].clipHigh.mean).toBeCloseTo(0.003, 15);
    expect(agg.rows[1].clipHigh.n).toBe(0);
    expect(markdownTables(agg)).toContain("| - / - / - |");
  });

  it("trainingMetrics: every update's per-token metrics weighted by its tokens; null without updates", () => {
    const u = (tokens: number, high: number, kl: number) => ({ event: "update", metrics: { tokens, clip_frac_low: 0, clip_frac_high: high, clip_frac_dual: 0, approx_kl: kl } });
    const t = trainingMetrics([u(100, 0.1, 0.02), u(300, 0.02, 0.001), { event: "update", metrics: { tokens: 0, clip_frac_high: 1 } }])!;
    expect(t.tokens).toBe(400);
    expect(t.clip_frac_high).toBeCloseTo((10 + 6) / 400, 15); // not the mean of the fractions (0.06)
    expect(t.approx_kl).toBeCloseTo((2 + 0.3) / 400, 15);
    expect(trainingMetrics([])).toBeNull();
  });

  it("archives the outputs and each run's summary and gzipped metrics, nothing else of the run", () => {
    const exp = path.join(scratch, "archive-src");
    const runDir = path.join(exp, "runs", "dapo-base-s1");
    mkdirSync(path.join(runDir, "checkpoints"), { recursive: true });
    writeFileSync(path.join(exp, "table.md"), "| t |\n");
    writeFileSync(path.join(runDir, "summary.json"), '{"steps":3}');
    writeFileSync(path.join(runDir, "metrics.jsonl"), '{"event":"update","step":1}\n');
    writeFileSync(path.join(runDir, "checkpoints", "big.bin"), "x");
    const out = path.join(scratch, "archive-out");
    archiveExperiment(exp, out, [rec("dapo", "base", 1, 0.4, { dir: runDir })]);
    expect(readFileSync(path.join(out, "table.md"), "utf8")).toBe("| t |\n");
    expect(readFileSync(path.join(out, "runs/dapo-base-s1/summary.json"), "utf8")).toBe('{"steps":3}');
    expect(gunzipSync(readFileSync(path.join(out, "runs/dapo-base-s1/metrics.jsonl.gz"))).toString()).toBe('{"event":"update","step":1}\n');
    expect(existsSync(path.join(out, "runs/dapo-base-s1/checkpoints"))).toBe(false);
  });

  it("draws a bar per (algorithm, variant), a dot per run and a curve per run", () => {
    const records = [rec("dapo", "base", 1, 0.4), rec("dapo", "lspo", 1, 0.45), rec("grpo", "base", 1, 0.38)];
    const agg = aggregate(records, ["dapo", "grpo"], ["base", "lspo"]);
    const bars = accuracyBars(agg, records, ["dapo", "grpo"], ["base", "lspo"]);
    expect(bars.startsWith("<svg")).toBe(true);
    expect(bars.trim().endsWith("</svg>")).toBe(true);
    expect(bars.match(/<rect [^>]*fill-opacity/g)).toHaveLength(3);
    expect(bars.match(/<circle /g)).toHaveLength(3);
    expect(bars).toContain("dapo lspo: 45.0 ± 0.0%");
    const curves = accuracyCurves(records, ["dapo", "grpo"], ["base", "lspo"]);
    expect(curves.match(/<path /g)).toHaveLength(3);
    expect(accuracyCurves([], ["dapo"], ["base"])).toBe("");
  });
});

describe("experiment file", () => {
  const base = path.join(repoRoot, "configs/demo.yaml");
  const minimal = { base, algorithms: ["dapo", "gspo"], seeds: [1, 2] };

  it("defaults to base (no length filter) vs lspo (length filter) and expands every run", () => {
    const e = parseExperiment(minimal, path.join(repoRoot, "x.yaml"));
    expect(e.variants).toEqual({ base: ["sampler.lengthFilter=false"], lspo: ["sampler.lengthFilter=true"] });
    const runs = planRuns(e, path.join(scratch, "exp"), ["run.maxGroups=300"]);
    expect(runs.map((r) => r.id)).toEqual(["dapo-base-s1", "dapo-lspo-s1", "dapo-base-s2", "dapo-lspo-s2", "gspo-base-s1", "gspo-lspo-s1", "gspo-base-s2", "gspo-lspo-s2"]);
    const r = runs[5];
    expect(r.config.learner.algorithm.name).toBe("gspo");
    expect(r.config.sampler.lengthFilter).toBe(true);
    expect(runs[4].config.sampler.lengthFilter).toBe(false);
    expect(r.config.run).toMatchObject({ seed: 1, name: "gspo-lspo-s1", dir: path.join(scratch, "exp", "runs", "gspo-lspo-s1"), maxGroups: 300 });
  });

  it("names what is wrong", () => {
    const f = "e.yaml";
    expect(() => parseExperiment({ ...minimal, seed: [1] }, f)).toThrow(/e\.yaml: unknown key seed; valid keys: name, base, overrides, algorithms, seeds, variants, out/);
    expect(() => parseExperiment({ ...minimal, algorithms: ["dapo", "ppo"] }, f)).toThrow(/unknown algorithm 'ppo'; valid: dapo, dr_grpo, grpo, gspo/);
    expect(() => parseExperiment({ ...minimal, seeds: [1, 1] }, f)).toThrow(/seeds: listed twice/);
    expect(() => parseExperiment({ ...minimal, variants: { only: [] } }, f)).toThrow(/need at least two/);
    expect(() => parseExperiment({ ...minimal, overrides: ["run.steps"] }, f)).toThrow(/overrides\.0: a key=value run-config override/);
    expect(() => parseExperiment({ algorithms: ["dapo"], seeds: [1] }, f)).toThrow(/e\.yaml: base: /);
    const e = parseExperiment({ ...minimal, variants: { a: ["sampler.lengthFiltr=true"], b: [] } }, path.join(repoRoot, "x.yaml"));
    expect(() => planRuns(e, scratch)).toThrow(ExperimentConfigError);
    expect(() => planRuns(e, scratch)).toThrow(/run dapo-a-s1: .*unknown key 'lengthFiltr'/);
    const bad = path.join(scratch, "bad.yaml");
    writeFileSync(bad, "name: [unclosed");
    expect(() => loadExperiment(bad)).toThrow(/bad\.yaml: /);
  });

  it("the shipped configs/lspo-vs-base.yaml plans 3 algorithms x 2 variants x its seeds at one equal budget", () => {
    const e = loadExperiment(path.join(repoRoot, "configs/lspo-vs-base.yaml"));
    expect(e.algorithms).toEqual(["grpo", "dapo", "gspo"]);
    const runs = planRuns(e, path.join(scratch, "shipped"));
    expect(runs).toHaveLength(3 * 2 * e.seeds.length);
    const budgets = new Set(runs.map((r) => r.config.run.maxGroups));
    expect(budgets.size).toBe(1);
    expect([...budgets][0]).toBeGreaterThan(0);
    expect(new Set(runs.map((r) => r.config.sampler.lengthFilter))).toEqual(new Set([false, true]));
  });

  it("lspo experiment --dry-run prints the plan; bad flags and arguments are named", async () => {
    const out: string[] = [], err: string[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((...a) => void out.push(a.join(" ")));
    const error = vi.spyOn(console, "error").mockImplementation((...a) => void err.push(a.join(" ")));
    try {
      const file = path.join(scratch, "e.yaml");
      writeFileSync(file, `base: ${base}\nalgorithms: [dapo]\nseeds: [4]\n`);
      expect(await run(["-c", file, "--dry-run", "--out", path.join(scratch, "dry"), "run.maxGroups=50"])).toBe(0);
      expect(out.join("\n")).toMatch(/experiment experiment: 2 runs into .*dry\ndapo-base-s4: dapo, lengthFilter=false, seed 4, .*maxGroups=50\ndapo-lspo-s4: dapo, lengthFilter=true/);
      expect(await run(["-c", file, "stray"])).toBe(2);
      expect(err.join("\n")).toContain("unexpected argument 'stray'");
      expect(await run([])).toBe(2);
      await expect(run(["-c", file, "--bogus"])).rejects.toThrow(/--bogus/);
    } finally {
      log.mockRestore();
      error.mockRestore();
    }
  });
});

describe("controller: generation budget helpers", () => {
  it("batchesSettled: every emitted batch's groups are trained, stale or duplicates", () => {
    const st = (trainedGroups: number, stale = 0, duplicates = 0) => ({ status: { counters: { trainedGroups, stale, duplicates } } });
    expect(batchesSettled(st(32), 2, 16)).toBe(true);
    expect(batchesSettled(st(16), 2, 16)).toBe(false); // the second batch is still being trained
    expect(batchesSettled(st(28, 3, 1), 2, 16)).toBe(true);
    expect(batchesSettled(st(0), 0, 16)).toBe(true);
    expect(batchesSettled({}, 1, 16)).toBe(false);
  });

  it("batchesWaiting: undelivered plus prefetched, never the one in training", () => {
    expect(batchesWaiting({ num_pending: 0, num_ack_pending: 0 })).toBe(0); // idle, nothing there
    expect(batchesWaiting({ num_pending: 0, num_ack_pending: 1 })).toBe(0); // training the only one
    expect(batchesWaiting({ num_pending: 1, num_ack_pending: 1 })).toBe(1);
    expect(batchesWaiting({ num_pending: 0, num_ack_pending: 2 })).toBe(1); // one prefetched behind it
    expect(batchesWaiting({ num_pending: 2, num_ack_pending: 3 })).toBe(4);
  });

  it("batchesAhead: the smaller of the learner's count and the server's, each of which can only be too high", () => {
    expect(batchesAhead(11, 11, 1)).toBe(0); // two acks lost in a NATS restart: the server still counts a batch waiting
    expect(batchesAhead(11, 9, 0)).toBe(0); // the learner's Status is late during an update: the server knows better
    expect(batchesAhead(11, 9, 1)).toBe(1);
    expect(batchesAhead(11, 9, null)).toBe(2); // the server did not answer: the learner's own count
    expect(batchesAhead(3, 4, null)).toBe(0); // never below 0
  });

  it("train refuses eval.samples above rollout.groupSize before starting anything", async () => {
    const config = resolveConfig({}, ["eval.samples=9", "rollout.groupSize=8", `run.dir=${path.join(scratch, "never")}`]);
    await expect(train(config)).rejects.toThrow("eval.samples (9) must be <= rollout.groupSize (8)");
    const sampledWithout = resolveConfig({}, ["eval.metric=sampled", `run.dir=${path.join(scratch, "never")}`]);
    await expect(train(sampledWithout)).rejects.toThrow('eval.metric is "sampled" but eval.samples is 0');
  });

  it("generatedTokens: mean length x G per judged group, duplicates and re-judged uids not counted twice", () => {
    const judged = [
      { uid: "a", length: 16, outcome: "short" }, { uid: "b", length: 27.625, outcome: "all-wrong" }, { uid: "b", length: 27.625, outcome: "duplicate" },
      { uid: "c", length: 21.5, outcome: "stale" }, { uid: "a", length: 16, outcome: "short" },
    ];
    expect(generatedTokens(judged, 8)).toBe(128 + 221 + 172);
  });
});
