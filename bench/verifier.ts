// `npm run bench -- verifier`: what the math verifier costs (issue 19). Measures, on this process's one
// thread (the CAS worker is a second thread, busy only on the CAS path):
//   - throughput in cases/s for plain numeric answers (goal: >= 5,000/s on one core) and for the CAS path;
//   - the whole corpus (libs/tasks/test/verifier-corpus.jsonl) in each extraction mode;
//   - per-case time of adversarial inputs, against the per-case bound (the CAS hard limit plus slack);
//   - the CAS worker's cold start, and the older per-path and pathological rows.
// Each throughput figure is the median over RUNS runs with min and max. The 1-minute load average is
// recorded at the start and the end: the machine is shared. Writes bench/results/verifier.json.
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { SymbolicChecker, verifyResponse, syntheticProblems, type ExtractMode } from "@lspo/tasks";
import { startProvenance } from "@lspo/telemetry";
// Recorded from the start: a tree that changes while the benchmark runs makes the result "uncommitted".
const provenance = startProvenance({ ignore: /^bench\/results\// });

const RUNS = 5;
/** Per-case bound for adversarial input: the CAS's 2 s hard limit plus slack for a loaded machine. */
const CASE_BOUND_MS = 3500;
const loadStart = loadavg()[0];

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const r = (x: number) => Number(x.toPrecision(4));
  return { median: r(s[Math.floor(s.length / 2)]), min: r(s[0]), max: r(s[s.length - 1]) };
}

/** Cases/s over RUNS runs of all `cases`, each run checking every verdict against its expectation. */
function throughput(cases: [string, string, boolean][], options: { symbolic: SymbolicChecker; extract?: ExtractMode }, repeat: number) {
  const rates: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now();
    for (let k = 0; k < repeat; k++) {
      for (const [response, gold, expected] of cases) {
        if (verifyResponse(response, gold, options).correct !== expected) throw new Error(`bench case ${JSON.stringify([response, gold])} is not ${expected}`);
      }
    }
    rates.push((cases.length * repeat) / ((performance.now() - t) / 1000));
  }
  return { cases: cases.length * repeat, casesPerSecond: stats(rates) };
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

// Plain numeric answers, in the styles a reward sees: GSM8K worked solutions, boxed integers, grouped
// thousands, fractions, decimals, money and units; half right, half wrong.
const synthetic = syntheticProblems("test", 100, { seed: 1, difficulty: [1, 4] });
const numeric: [string, string, boolean][] = [
  ...synthetic.map((p, i): [string, string, boolean] => [p.solution, i % 2 ? p.answer : String(Number(p.answer) + 1), i % 2 === 1]),
  ...Array.from({ length: 100 }, (_, i): [string, string, boolean] => {
    const n = 1000 + i * 7919;
    const forms = [`\\boxed{${n.toLocaleString("en-US")}}`, `The answer is $${n}$.`, `\\boxed{\\frac{${2 * n}}{2}}`, `#### \\$${n.toLocaleString("en-US")}`, `\\boxed{${n} \\text{ cm}}`];
    return [forms[i % forms.length], String(i % 3 ? n : n + 1), i % 3 !== 0];
  }),
];
const cas: [string, string, boolean][] = [
  ["\\boxed{2\\sqrt{2}}", "\\sqrt{8}", true],
  ["\\boxed{x^2+2x+1}", "(x+1)^2", true],
  ["\\boxed{x^2+1}", "(x+1)^2", false],
  ["\\boxed{\\tan^2 y + 1}", "\\sec^2 y", true],
  ["\\boxed{2x+4y-3=0}", "y=-\\frac12x+\\frac34", true],
  ["\\boxed{\\frac{\\sqrt{3}}{3}}", "\\frac{1}{\\sqrt{3}}", true],
];

interface CorpusCase { id: string; response: string; gold: string; expected: Record<ExtractMode, boolean> }
const corpus: CorpusCase[] = readFileSync(join(import.meta.dirname, "../libs/tasks/test/verifier-corpus.jsonl"), "utf8")
  .split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
const corpusRows = (["strict", "lenient"] as const).map((extract) => {
  const perCase = corpus.map((c) => {
    const t = performance.now();
    const v = verifyResponse(c.response, c.gold, { symbolic, extract });
    return { id: c.id, ms: performance.now() - t, agrees: v.correct === c.expected[extract] };
  });
  const slowest = [...perCase].sort((a, b) => b.ms - a.ms).slice(0, 3).map((c) => ({ id: c.id, ms: Number(c.ms.toFixed(1)) }));
  return {
    extract, agree: perCase.filter((c) => c.agrees).length,
    ...throughput(corpus.map((c) => [c.response, c.gold, c.expected[extract]]), { symbolic, extract }, 1), slowest,
  };
});

const M = 1_000_000;
const adversarial: Record<string, [string, string]> = {
  "million-digit answer": ["\\boxed{" + "7".repeat(M) + "}", "7"],
  "million-digit gold": ["\\boxed{7}", "7".repeat(M)],
  "\\frac nested 300 deep": ["\\boxed{" + "\\frac{".repeat(300) + "1" + "}{2}".repeat(300) + "}", "1"],
  "\\frac nested 10 deep": ["\\boxed{" + "\\frac{".repeat(10) + "1" + "}{2}".repeat(10) + "}", "1"],
  "2^{100000000}": ["\\boxed{2^{100000000}}", "0"],
  "9^{9^{9}}": ["\\boxed{9^{9^{9}}}", "5"],
  "1e999999": ["\\boxed{1e999999}", "1"],
  "a million unclosed braces": ["\\boxed{" + "{".repeat(M), "1"],
  "half a million unclosed \\( (lenient)": ["\\(".repeat(M / 2), "1"],
  "a million $ (lenient)": ["$".repeat(M), "1"],
  "(a+b+c+d)^{30} vs (a+b)^{30} (CAS limit)": ["\\boxed{(a+b+c+d)^{30}}", "(a+b)^{30}"],
  "(a+b+c+d)^{30} = 0 as equations (CAS limit, twice)": ["\\boxed{(a+b+c+d)^{30}=0}", "(a+b)^{30}=0"],
};
const adversarialRows = Object.entries(adversarial).map(([input, [response, gold]]) => {
  const extract: ExtractMode = input.includes("(lenient)") ? "lenient" : "strict";
  const ms: number[] = [];
  let v = verifyResponse(response, gold, { symbolic, extract });
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    v = verifyResponse(response, gold, { symbolic, extract });
    ms.push(performance.now() - t);
  }
  const worst = Math.max(...ms);
  return { input, extract, correct: v.correct, status: v.status, reason: v.reason ?? null, msMedian: Number(stats(ms).median.toFixed(2)), msMax: Number(worst.toFixed(2)), withinBound: worst < CASE_BOUND_MS };
});
symbolic.dispose();

const result = {
  provenance: provenance.finish(),
  command: "npm run bench -- verifier",
  date: new Date().toISOString(),
  machine: { cpu: cpus()[0]?.model.split(" ").slice(0, 2).join(" "), cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
  load1m: { start: Number(loadStart.toFixed(2)), end: Number(loadavg()[0].toFixed(2)) },
  setup: {
    runs: RUNS,
    metric: "casesPerSecond = cases / wall seconds of verifyResponse() on the main thread (extraction + normalisation + comparison, verdict checked), median (min, max) over runs",
    casOptions: symbolic.options,
    caseBoundMs: CASE_BOUND_MS,
  },
  casWorkerStartMs: startMs.map((x) => Number(x.toFixed(0))),
  throughput: {
    numeric: { goalCasesPerSecond: 5000, ...throughput(numeric, { symbolic }, 20) },
    cas: throughput(cas, { symbolic }, 10),
  },
  corpus: corpusRows,
  adversarial: adversarialRows,
};
writeFileSync(join(import.meta.dirname, "results", "verifier.json"), JSON.stringify(result, null, 2) + "\n");
console.log(JSON.stringify(result, null, 2));
if (adversarialRows.some((r) => !r.withinBound || r.correct) || corpusRows.some((r) => r.agree !== r.cases)) {
  console.error("bench verifier: an adversarial case passed its bound or was accepted, or the corpus disagrees");
  process.exit(1);
}
