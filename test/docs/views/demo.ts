// docs/results/demo/summary.json (a kept `npm run demo` run's summary.json, with its provenance): docs/DEMO.md
// "What `npm run demo` shows" and the README's quick start.
import { pct } from "../support/format.js";
import type { View } from "./view.js";

interface Demo {
  steps: number;
  lost: number;
  duplicates: number;
  restarts: number;
  wallSeconds: number;
  accuracy_before: number;
  accuracy_after: number;
  greedy_accuracy_before: number;
  greedy_accuracy_after: number;
  evals: { step: number; accuracy: number; sampledAccuracy: number }[];
}

export const views: Record<string, View> = {
  headline: (d: Demo) => ({
    quotes: [
      `${pct(d.accuracy_before)} -> ${pct(d.accuracy_after)}`,
      `${pct(d.greedy_accuracy_before)} -> ${pct(d.greedy_accuracy_after)}`,
      `${d.steps} steps`,
      `${Math.round(d.wallSeconds)} s`,
      `lost ${d.lost}, duplicates ${d.duplicates}, restarts ${d.restarts}`,
    ],
  }),
  // The held-out evaluations along the run (eval.every steps), the run's metric first.
  evals: (d: Demo) => ({
    table: [
      ["step", ...d.evals.map((e) => `${e.step}`)],
      ["held-out avg@4 at T = 1 (2048 samples)", ...d.evals.map((e) => pct(e.sampledAccuracy))],
      ["held-out greedy (512 problems)", ...d.evals.map((e) => pct(e.accuracy))],
    ],
  }),
  readme: (d: Demo) => ({
    quotes: [`from ${pct(d.accuracy_before)} to ${pct(d.accuracy_after)}`, `greedy ${pct(d.greedy_accuracy_before)} -> ${pct(d.greedy_accuracy_after)}`, `in ${Math.round(d.wallSeconds)} s`],
  }),
};
