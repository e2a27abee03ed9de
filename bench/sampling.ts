// `npm run bench -- sampling`: next-token sampling from one row of logits at a Qwen2.5-sized vocabulary
// (issue 22). Times, in the same run and on the same rows, the sampler as it was before issue 22
// (bench/lib/sample-reference.ts: V-sized JS arrays, filter and sort) and the current one (typed-array
// selection, one-pass greedy), for plain T = 1, top-k 50, top-p 0.9, top-k 50 + top-p 0.9 and greedy.
// Both draw from rngs with the same seed and must return the same tokens (the bench checks it), so the two
// do the same work. Goal from the issue: top-p at least 10x faster than before.
// Writes bench/results/sampling.json; docs/BENCHMARKS.md quotes it.
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { createRng, sampleToken, type SamplingParams, type SampledToken, type Rng } from "@lspo/model";
import { startProvenance } from "@lspo/telemetry";
import { sampleToken as sampleTokenBefore } from "./lib/sample-reference.js";
import { judgeGoal, machine, summarize, type Summary } from "./lib/stats.js";
// Recorded from the start: a tree that changes while the benchmark runs makes the result "uncommitted".
const provenance = startProvenance({ ignore: /^bench\/results\// });
const loadStart = loadavg()[0];

const V = 152_064; // Qwen2.5's vocabulary
const ROWS = 64;
const SCALE = 3; // logits ~ N(0, 3^2): at T = 1 the 0.9 nucleus holds ~4% of the vocabulary (~6.5k tokens)
// Each run times every case before and after; the first run only warms the JIT up and is not recorded.
const RUNS = 5;
const GOAL = { case: "top-p 0.9", speedup: 10 };

const CASES: { name: string; params: SamplingParams }[] = [
  { name: "plain T = 1", params: { temperature: 1, topK: 0, topP: 1 } },
  { name: "top-k 50", params: { temperature: 1, topK: 50, topP: 1 } },
  { name: "top-p 0.9", params: { temperature: 1, topK: 0, topP: 0.9 } },
  { name: "top-k 50 + top-p 0.9", params: { temperature: 1, topK: 50, topP: 0.9 } },
  { name: "greedy", params: { temperature: 0, topK: 0, topP: 1 } },
];

/** ROWS float32 rows of seeded N(0, SCALE^2) logits (Box-Muller over the sampler's own rng). */
function logitRows(seed: number): Float32Array[] {
  const rng = createRng(seed);
  return Array.from({ length: ROWS }, () =>
    Float32Array.from({ length: V }, () => Math.sqrt(-2 * Math.log(1 - rng.float())) * Math.cos(2 * Math.PI * rng.float()) * SCALE),
  );
}

type Sampler = (logits: Float32Array, p: SamplingParams, rng: Rng | null) => SampledToken;

/** One pass over the rows: wall and CPU ms per row, and what was drawn. */
function timeRows(sample: Sampler, rows: Float32Array[], p: SamplingParams, seed: number) {
  const rng = createRng(seed);
  const drawn: SampledToken[] = [];
  const cpu = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (const row of rows) drawn.push(sample(row, p, p.temperature > 0 ? rng : null));
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6 / rows.length;
  const used = process.cpuUsage(cpu);
  return { wallMs, cpuMs: (used.user + used.system) / 1e3 / rows.length, drawn };
}

const rows = logitRows(22);
const runs = CASES.map(() => ({ before: [] as number[], after: [] as number[], beforeCpu: [] as number[], afterCpu: [] as number[], ratio: [] as number[] }));
for (let run = 0; run <= RUNS; run++) {
  CASES.forEach(({ name, params }, c) => {
    const seed = 1000 * run + c;
    const time = (sample: Sampler) => timeRows(sample, rows, params, seed);
    // Alternate which goes first, so that a drift in the machine's load does not favour one side.
    let before, after;
    if (run % 2) {
      before = time(sampleTokenBefore);
      after = time(sampleToken);
    } else {
      after = time(sampleToken);
      before = time(sampleTokenBefore);
    }
    after.drawn.forEach((d, r) => {
      const was = before.drawn[r];
      if (d.token !== was.token || Math.abs(d.logprob - was.logprob) > 1e-12) {
        throw new Error(`${name}, run ${run}, row ${r}: drew ${JSON.stringify(d)}, the sampler before issue 22 ${JSON.stringify(was)}`);
      }
    });
    if (run === 0) return;
    const x = runs[c];
    x.before.push(before.wallMs);
    x.after.push(after.wallMs);
    x.beforeCpu.push(before.cpuMs);
    x.afterCpu.push(after.cpuMs);
    x.ratio.push(before.wallMs / after.wallMs);
  });
}

const results = CASES.map(({ name, params }, c) => {
  const x = runs[c];
  return {
    name,
    params,
    beforeMsPerRow: summarize(x.before),
    afterMsPerRow: summarize(x.after),
    speedup: summarize(x.ratio),
    beforeCpuMsPerRow: summarize(x.beforeCpu).median,
    afterCpuMsPerRow: summarize(x.afterCpu).median,
  };
});
const f = (s: Summary, digits: number) => `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
for (const r of results) {
  console.log(`${r.name.padEnd(22)} before ${f(r.beforeMsPerRow, 2)} ms/row  after ${f(r.afterMsPerRow, 2)} ms/row  speed-up ${f(r.speedup, 1)}x  (CPU ms/row ${r.beforeCpuMsPerRow.toFixed(2)} -> ${r.afterCpuMsPerRow.toFixed(2)})`);
}
const goalCase = results.find((r) => r.name === GOAL.case)!;
const verdict = judgeGoal(goalCase.speedup, GOAL.speedup);
console.log(`goal: ${GOAL.case} at least ${GOAL.speedup}x faster than before: ${verdict}`);

const result = {
  provenance: provenance.finish(),
  command: "npm run bench -- sampling",
  date: new Date().toISOString(),
  machine: { ...machine(), loadAverage1m: { start: loadStart, end: loadavg()[0] } },
  setup: {
    vocabulary: V,
    rows: ROWS,
    logits: `float32, N(0, ${SCALE}^2), seeded`,
    runs: RUNS,
    warmUpRuns: 1,
    before: "bench/lib/sample-reference.ts (libs/model/src/sampling/sample.ts at ac5ac04)",
    metric:
      "ms per row = wall time to sample one token from each of the rows / rows, median (min–max) over runs; " +
      "speedup = per run, before / after on the same rows and seeds, median (min–max) over runs; " +
      "CPU ms per row: this process's user + system time, median over runs (secondary); " +
      "every run checks that both draw the same tokens with log-probs within 1e-12",
  },
  cases: results,
  goal: { ...GOAL, verdict },
};
writeFileSync(join(import.meta.dirname, "results", "sampling.json"), `${JSON.stringify(result, null, 2)}\n`);
