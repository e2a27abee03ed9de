// `npm run bench -- verifier`: what the math verifier costs. Measures the CAS (@cortex-js/compute-engine)
// load time in its worker (cold start, the first comparison's cost), per-call cost of each comparison
// path (numeric, list, symbolic), and the time on pathological responses. Writes bench/results/verifier.json.
import { writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { SymbolicChecker, isCorrect, syntheticProblems, verifyResponse } from "@lspo/tasks";

const RUNS = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median over RUNS of the mean microseconds per call over `n` calls. */
function perCall(n: number, fn: (i: number) => unknown): number {
  const runs: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) fn(i);
    runs.push(((performance.now() - t) * 1000) / n);
  }
  return median(runs);
}

// Cold start: a fresh worker each time (loading the engine is the bulk of it).
const startMs: number[] = [];
for (let r = 0; r < 3; r++) {
  const c = new SymbolicChecker();
  const t = performance.now();
  c.warmUp();
  startMs.push(performance.now() - t);
  c.dispose();
}

const symbolic = new SymbolicChecker();
symbolic.warmUp();
const synthetic = syntheticProblems("test", 100, { seed: 1, difficulty: [1, 4] });

const paths: Record<string, { n: number; cases: (i: number) => [string, string]; by: string }> = {
  "numeric: synthetic worked solution (#### line)": { n: 20_000, cases: (i) => [synthetic[i % 100].solution, synthetic[i % 100].answer], by: "number" },
  "numeric: boxed \\frac vs decimal": { n: 20_000, cases: () => ["so \\boxed{\\dfrac{3}{4}}.", "0.75"], by: "number" },
  "list: tuple of fractions": { n: 20_000, cases: () => ["\\boxed{\\left(\\frac12, 3\\right)}", "(0.5,3)"], by: "list" },
  "symbolic: 2\\sqrt{2} vs \\sqrt{8}": { n: 300, cases: () => ["\\boxed{2\\sqrt{2}}", "\\sqrt{8}"], by: "symbolic" },
  "symbolic: x^2+2x+1 vs (x+1)^2": { n: 300, cases: () => ["\\boxed{x^2+2x+1}", "(x+1)^2"], by: "symbolic" },
  "symbolic, not equal: x^2+1 vs (x+1)^2": { n: 300, cases: () => ["\\boxed{x^2+1}", "(x+1)^2"], by: "none" },
};
const pathRows = Object.entries(paths).map(([name, { n, cases, by }]) => {
  const [r0, g0] = cases(0);
  const decided = verifyResponse(r0, g0, { symbolic }).by; // also warms the path
  if (decided !== by) throw new Error(`bench case '${name}' was decided by '${decided}', not '${by}'`);
  return { path: name, decidedBy: by, calls: n, microsPerCall: Number(perCall(n, (i) => isCorrect(...cases(i), { symbolic })).toFixed(2)) };
});

const KB100 = 100 * 1024;
const pathological: Record<string, [string, string]> = {
  "100 KB prose then \\boxed{}": ["lorem ipsum ".repeat(KB100 / 12) + "\\boxed{7}", "7"],
  "100 KB of unclosed braces": ["\\boxed{" + "{".repeat(KB100), "1"],
  "14,000 unclosed \\boxed{": ["\\boxed{".repeat(KB100 / 7), "1"],
  "exponent tower 10^{10^{10}}": ["\\boxed{10^{10^{10}}}", "1"],
  "division by zero": ["\\boxed{\\frac{1}{0}}", "\\frac{2}{0}"],
  "within budget but slow in the CAS: (a+b+c+d)^{30}": ["\\boxed{(a+b+c+d)^{30}}", "(a+b)^{30}"],
};
const pathologicalRows = Object.entries(pathological).map(([name, [response, gold]]) => {
  const ms: number[] = [];
  let correct = false;
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    correct = verifyResponse(response, gold, { symbolic }).correct;
    ms.push(performance.now() - t);
  }
  return { input: name, correct, msMedian: Number(median(ms).toFixed(2)) };
});
symbolic.dispose();

const result = {
  command: "npm run bench -- verifier",
  date: new Date().toISOString(),
  machine: { cpu: cpus()[0]?.model.split(" ").slice(0, 2).join(" "), cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
  setup: {
    runs: RUNS,
    metric: "microsPerCall = median over runs of the mean time of one isCorrect() call (extraction + normalisation + comparison)",
    casOptions: symbolic.options,
  },
  casWorkerStartMs: startMs.map((x) => Number(x.toFixed(0))),
  paths: pathRows,
  pathological: pathologicalRows,
};
writeFileSync(join(import.meta.dirname, "results", "verifier.json"), JSON.stringify(result, null, 2) + "\n");
console.log(JSON.stringify(result, null, 2));
