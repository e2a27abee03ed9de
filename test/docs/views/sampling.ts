// bench/results/sampling.json (npm run bench -- sampling): docs/BENCHMARKS.md, "Token sampling (issue 22)".
import { judgeGoal } from "../../../bench/lib/stats.js";
import { fixed, spread, type Spread } from "../support/format.js";
import type { View } from "./view.js";

interface Case {
  name: string;
  beforeMsPerRow: Spread;
  afterMsPerRow: Spread;
  speedup: Spread & { runs: number[] };
  beforeCpuMsPerRow: number;
  afterCpuMsPerRow: number;
}
interface Sampling {
  setup: { runs: number };
  cases: Case[];
  goal: { case: string; speedup: number };
}

const ms = (s: Spread) => spread(s, (x) => fixed(x, 2));
/** "11.0x (9.7–12.9)" */
const speedup = (s: Spread) => `${fixed(s.median, 1)}x (${fixed(s.min, 1)}–${fixed(s.max, 1)})`;

export const views: Record<string, View> = {
  cases: (d: Sampling) => ({
    table: [
      ["case", "before, ms per row", "after, ms per row", "speed-up", "CPU ms per row, before → after"],
      ...d.cases.map((c) => [c.name, ms(c.beforeMsPerRow), ms(c.afterMsPerRow), speedup(c.speedup), `${fixed(c.beforeCpuMsPerRow, 2)} → ${fixed(c.afterCpuMsPerRow, 2)}`]),
    ],
  }),
  goal: (d: Sampling) => {
    const c = d.cases.find((x) => x.name === d.goal.case)!;
    return {
      quotes: [
        `${d.goal.case} at least ${d.goal.speedup}x faster than before: ${judgeGoal(c.speedup, d.goal.speedup)}`,
        speedup(c.speedup),
        `${c.speedup.runs.filter((x) => x >= d.goal.speedup).length} of ${d.setup.runs} runs`,
        `${fixed(Math.min(...c.speedup.runs), 1)}x`,
      ],
    };
  },
};
