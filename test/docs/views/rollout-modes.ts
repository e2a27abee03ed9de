// bench/results/rollout-modes.json (npm run bench -- rollout-modes): docs/BENCHMARKS.md, "The rollout actor's two modes".
import { fixed, grouped, spread, times, type Spread } from "../support/format.js";
import type { View } from "./view.js";

interface Side {
  tokensPerS: Spread;
  occupancy: Spread;
  generateShare: Spread;
  secondsPerTrial: Spread;
}
interface RolloutModes {
  calls: Side;
  continuous: Side;
  speedup: Spread;
  identicalGroups: number[];
  setup: { promptsPerTrial: number };
  updates: { every: number; calls: Side & { versionsPerTrial: Spread; meanLag: Spread }; continuous: Side & { versionsPerTrial: Spread; meanLag: Spread }; speedup: Spread };
}

const row = (name: string, s: Side, speedup: string) => [
  name, spread(s.tokensPerS, grouped), spread(s.occupancy, (x) => fixed(x, 2)), spread(s.generateShare, (x) => fixed(x, 2)), spread(s.secondsPerTrial, (x) => fixed(x, 2)), speedup,
];

export const views: Record<string, View> = {
  modes: (d: RolloutModes) => ({
    table: [
      ["mode", "tokens/s", "row occupancy", "generating share of the wall clock", "seconds per trial", "continuous / calls"],
      row("by calls", d.calls, "1x"),
      row("continuous", d.continuous, spread(d.speedup, (x) => times(x, 2))),
    ],
  }),
  updates: (d: RolloutModes) => ({
    table: [
      ["mode", "tokens/s", "row occupancy", "generating share of the wall clock", "seconds per trial", "continuous / calls", "policy versions per trial", "a group's lag behind the newest version, mean per trial"],
      [...row("by calls", d.updates.calls, "1x"), spread(d.updates.calls.versionsPerTrial, (x) => fixed(x, 0)), spread(d.updates.calls.meanLag, (x) => fixed(x, 2))],
      [...row("continuous", d.updates.continuous, spread(d.updates.speedup, (x) => times(x, 2))), spread(d.updates.continuous.versionsPerTrial, (x) => fixed(x, 0)), spread(d.updates.continuous.meanLag, (x) => fixed(x, 2))],
    ],
  }),
  "same-work": (d: RolloutModes) => ({
    quotes: [
      new Set(d.identicalGroups).size === 1
        ? `${d.identicalGroups[0]} of ${d.setup.promptsPerTrial} in every trial`
        : `${Math.min(...d.identicalGroups)}–${Math.max(...d.identicalGroups)} of ${d.setup.promptsPerTrial}`,
    ],
  }),
};
