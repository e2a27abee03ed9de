// bench/results/rollout.json (npm run bench -- rollout): docs/BENCHMARKS.md, "Rollout actor overhead".
import { judgeGoal } from "../../../bench/lib/stats.js";
import { fixed, grouped, spread, spreadOf, type Spread } from "../support/format.js";
import type { View } from "./view.js";

interface Side {
  tokens: number;
  cpuSeconds: number;
}
interface Rollout {
  ratio: Spread & { runs: number[] };
  serviceTokensPerS: Spread;
  bareTokensPerS: Spread;
  serviceTokensPerCpuS: Spread;
  bareTokensPerCpuS: Spread;
  serviceGenerateShare: Spread;
  serviceSyncShare: Spread;
  identicalGroups: number[];
  runs: { service: Side; bare: Side }[];
}

/** The goal: the service at least 0.9x the bare loop's tokens/s, judged on the wall-clock median. */
const GOAL = 0.9;
const rate = (s: Spread) => spread(s, grouped);
const ratio = (s: Spread) => spread(s, (x) => fixed(x, 2));
const perCpu = (s: Side) => s.tokens / s.cpuSeconds;

export const views: Record<string, View> = {
  overhead: (d: Rollout) => ({
    table: [
      ["", "service", "bare", "service / bare", "goal >= 0.9x"],
      ["tokens/s (wall clock)", rate(d.serviceTokensPerS), rate(d.bareTokensPerS), ratio(d.ratio), judgeGoal(d.ratio, GOAL)],
      ["tokens per CPU-second of the generating process", rate(d.serviceTokensPerCpuS), rate(d.bareTokensPerCpuS), ratio(spreadOf(d.runs.map((r) => perCpu(r.service) / perCpu(r.bare)))), ""],
    ],
  }),
  "time-split": (d: Rollout) => ({
    quotes: [
      `generating (tokenize, \`generate()\`, build the groups): ${spread(d.serviceGenerateShare, (x) => fixed(x, 3))}`,
      `checking the weights pointer before each generation: ${spread(d.serviceSyncShare, (x) => fixed(x, 3))}`,
    ],
  }),
  "same-work": (d: Rollout) => ({
    quotes: [new Set(d.identicalGroups).size === 1 ? `all ${d.identicalGroups[0]} in every run` : `${Math.min(...d.identicalGroups)}–${Math.max(...d.identicalGroups)}`],
  }),
  /** An earlier result file's ratio, quoted beside the current one (docs/results/history/). */
  ratio: (d: Rollout) => ({ quotes: [`${ratio(d.ratio)} over ${d.ratio.runs.length} runs`] }),
};
