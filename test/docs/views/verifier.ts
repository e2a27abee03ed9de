// bench/results/verifier.json (npm run bench -- verifier): docs/BENCHMARKS.md, "Math verifier".
import { judgeGoal } from "../../../bench/lib/stats.js";
import { fixed, grouped, spread, type Spread } from "../support/format.js";
import type { View } from "./view.js";

interface Verifier {
  load1m: { start: number; end: number };
  casWorkerStartMs: number[];
  throughput: { numeric: { goalCasesPerSecond: number; cases: number; casesPerSecond: Spread }; cas: { cases: number; casesPerSecond: Spread } };
  corpus: { extract: string; cases: number; agree: number; casesPerSecond: Spread }[];
  adversarial: { status: string; msMedian: number; msMax: number; withinBound: boolean }[];
}

/** Cases/s: whole numbers, grouped ("54,250"). */
const rate = (s: Spread) => spread(s, grouped);
/** Milliseconds with the precision the table gives them: 2 decimals below 1, 1 below 100, whole above. */
const ms = (x: number) => (x < 1 ? fixed(x, 2) : x < 100 ? fixed(x, 1) : fixed(x, 0));

export const views: Record<string, View> = {
  throughput: (d: Verifier) => ({
    table: [
      ["what", "cases per run", "cases/s"],
      [null, grouped(d.throughput.numeric.cases), rate(d.throughput.numeric.casesPerSecond)],
      [null, grouped(d.throughput.cas.cases), rate(d.throughput.cas.casesPerSecond)],
      ...d.corpus.map((c) => [`the corpus, ${c.extract} (${c.agree} of ${c.cases} agree with their stated result)`, grouped(c.cases), rate(c.casesPerSecond)]),
    ],
  }),
  goal: (d: Verifier) => {
    const n = d.throughput.numeric;
    const goal = n.goalCasesPerSecond;
    return {
      quotes: [
        `at least ${grouped(goal)} plain numeric answers/s on one core: ${judgeGoal(n.casesPerSecond, goal)}`,
        `Median ${grouped(n.casesPerSecond.median)}/s, ${(n.casesPerSecond.median / goal).toFixed(0)}× the goal`,
        `${grouped(n.casesPerSecond.min)}/s, ${(n.casesPerSecond.min / goal).toFixed(1)}× the goal`,
        `about ${(n.casesPerSecond.median / d.throughput.cas.casesPerSecond.median / 10).toFixed(0)}0×`,
      ],
    };
  },
  adversarial: (d: Verifier) => ({
    table: [
      ["input", "status", "why", "ms, median / max"],
      ...d.adversarial.map((a) => [null, a.withinBound ? a.status : `${a.status} (over the bound)`, null, `${ms(a.msMedian)} / ${ms(a.msMax)}`]),
    ],
  }),
  "cold-start": (d: Verifier) => ({
    quotes: [`${grouped(Math.min(...d.casWorkerStartMs))}–${grouped(Math.max(...d.casWorkerStartMs))} ms`],
  }),
  /** An earlier result file, quoted beside the current one (docs/results/history/). */
  "earlier-run": (d: Verifier) => ({
    quotes: [`at load ${fixed(d.load1m.start, 1)}–${fixed(d.load1m.end, 1)}, gave ${rate(d.throughput.numeric.casesPerSecond)}`],
  }),
  /** An earlier result file's CAS worker starts (docs/results/history/). */
  "earlier-cold-start": (d: Verifier) => ({
    quotes: [`${grouped(Math.min(...d.casWorkerStartMs))}–${grouped(Math.max(...d.casWorkerStartMs))} ms in a run at load ${fixed(d.load1m.start, 1)}`],
  }),
};
