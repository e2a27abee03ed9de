// bench/results/pipeline.json (npm run bench -- pipeline): docs/BENCHMARKS.md, "Pipeline utilisation and end to end".
import { judgeGoal } from "../../../bench/lib/stats.js";
import { fixed, pct, spread, spreadOf, type Spread } from "../support/format.js";
import type { View } from "./view.js";

interface Mode {
  rolloutGenerating: Spread;
  learnerIdle: Spread;
  promptsStarved: Spread;
  learnerStatusMsMedian: Spread;
  learnerStatusMsMax: Spread;
  toTargetSeconds: Spread;
  trainSeconds: Spread;
  accuracyBefore: Spread;
  reachedTarget: string;
  accuracyAfter: Spread;
}
interface Run {
  mode: string;
  trained: number;
  trainSeconds: number;
  toTarget: { step: number } | null;
}
interface Pipeline {
  setup: { steps?: number };
  perMode: Record<string, Mode>;
  overSync: Record<string, { speedup: Spread; rolloutTokensRatio: Spread; toTargetSpeedup: Spread }>;
  runs: Run[];
}

/** The goal: in pipelined mode the rollout actors generate at least 90% of the wall time. */
const GOAL = 0.9;
const NAMES: Record<string, string> = { sync: "sync", pipelined: "pipelined (demo)", "pipelined-2": "pipelined-2" };
const share = (s: Spread) => `${pct(s.median)} (${(s.min * 100).toFixed(1)}–${(s.max * 100).toFixed(1)})`;
const secs = (s: Spread) => spread(s, (x) => fixed(x, 1)).replace(" (", " s (");
const runsOf = (d: Pipeline, mode: string) => d.runs.filter((r) => r.mode === mode);
const groupsPerS = (d: Pipeline, mode: string) => spreadOf(runsOf(d, mode).map((r) => r.trained / r.trainSeconds)).median.toFixed(1);

export const views: Record<string, View> = {
  utilisation: (d: Pipeline) => ({
    table: [
      ["variant", "rollout actors generating", "goal >= 90%", "learner idle", "no prompt queued or in hand", "learner Status answer, median / max"],
      ...Object.entries(d.perMode).map(([m, v]) => [
        NAMES[m],
        share(v.rolloutGenerating),
        m === "sync" ? "" : judgeGoal(v.rolloutGenerating, GOAL),
        share(v.learnerIdle),
        share(v.promptsStarved),
        `${v.learnerStatusMsMedian.median.toFixed(0)} ms / ${(v.learnerStatusMsMax.median / 1000).toFixed(2)} s`,
      ]),
    ],
  }),
  "end-to-end": (d: Pipeline) => ({
    table: [
      ["variant", "to target: wall", "to target: step", "sync / variant, to target", "40 steps, wall", "sync / variant, 40 steps", "groups trained in 40 steps", "avg@4 after 40 steps"],
      ...Object.entries(d.perMode).map(([m, v]) => {
        const over = d.overSync[m];
        return [
          NAMES[m],
          secs(v.toTargetSeconds),
          runsOf(d, m).map((r) => r.toTarget?.step ?? "-").join(", "),
          over ? spread(over.toTargetSpeedup, (x) => fixed(x, 2)) : "1",
          secs(v.trainSeconds),
          over ? spread(over.speedup, (x) => fixed(x, 2)) : "1",
          runsOf(d, m).map((r) => r.trained).join(", "),
          spread(v.accuracyAfter, (x) => fixed(x, 3)),
        ];
      }),
    ],
  }),
  tokens: (d: Pipeline) => {
    const tokens = Object.values(d.overSync).flatMap((o) => [o.rolloutTokensRatio.min, o.rolloutTokensRatio.max]);
    return { quotes: [`(${fixed(Math.min(...tokens), 2)}–${fixed(Math.max(...tokens), 2)} of sync)`] };
  },
  target: (d: Pipeline & { setup: { target: number } }) => {
    const reached = Object.values(d.perMode).every((m) => m.reachedTarget === `${d.runs.length / Object.keys(d.perMode).length}/${d.runs.length / Object.keys(d.perMode).length}`);
    return { quotes: [`avg@4 = ${d.setup.target} (the base scores ${fixed(d.perMode.sync.accuracyBefore.median, 3)})`, reached ? "Every run reached it." : "(not every run reached it)"] };
  },
  cost: (d: Pipeline) => {
    const trained = (m: string) => runsOf(d, m).map((r) => r.trained);
    const pipelined = trained("pipelined");
    return {
      quotes: [
        `trained ${Math.min(...pipelined)}–${Math.max(...pipelined)} groups in 40 steps where sync trained ${trained("sync")[0]}`,
        `(${fixed(d.perMode.pipelined.accuracyAfter.median, 3)} vs ${fixed(d.perMode.sync.accuracyAfter.median, 3)}; two repeats)`,
        `(${groupsPerS(d, "pipelined")} vs ${groupsPerS(d, "sync")}/s)`,
        `reached the target ${fixed(d.overSync.pipelined.toTargetSpeedup.median, 2)}x sooner`,
      ],
    };
  },
  /** The result file before the controller fed pipelined runs during updates (docs/results/history/). */
  "before-feeding-change": (d: Pipeline) => ({
    quotes: [
      `generated ${share(d.perMode.pipelined.rolloutGenerating)} of the time`,
      `no prompt was queued ${share(d.perMode.pipelined.promptsStarved)} of the time`,
      `no faster than sync: ${spread(d.overSync.pipelined.speedup, (x) => fixed(x, 2))}`,
    ],
  }),
};
