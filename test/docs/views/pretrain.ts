// configs/models/demo-base/pretrain.json (lspo pretrain -c configs/demo-pretrain.yaml) and
// bench/results/pretrain-sweep.json (npm run bench -- pretrain-sweep): docs/DEMO.md, "The base policy".
import { fixed, grouped, pct } from "../support/format.js";
import type { View } from "./view.js";

interface Pretrain {
  held_out: { accuracy: number; correct: number; total: number; byLevel: Record<string, { accuracy: number }> };
  groups: { groups: number; groupSize: number; temperature: number; mixed: number; allCorrect: number; allWrong: number; sampledAccuracy: number; meanResponseTokens: number };
  loss: { first: number; curve: { step: number; loss: number }[] };
  wall_seconds: { train: number; total: number };
  parameters: number;
}
interface Sweep {
  results: { variant: string; parameters: number; held_out_accuracy: number; mixed_groups: number; cpu_seconds: number }[];
}

export const views: Record<string, View> = {
  base: (d: Pretrain) => {
    const h = d.held_out;
    const g = d.groups;
    const last = d.loss.curve[d.loss.curve.length - 1];
    const levels = Object.entries(h.byLevel).map(([l, v]) => `level ${l} ${pct(v.accuracy)}`).join(", ");
    return {
      table: [
        ["", ""],
        [`held-out greedy accuracy (${h.total} problems)`, `${pct(h.accuracy)} (${h.correct}/${h.total}): ${levels}`],
        [`G = ${g.groupSize} samples at temperature ${fixed(g.temperature, 1)} (${g.groups} held-out prompts)`, `${pct(g.mixed)} of groups mixed, ${pct(g.allCorrect)} all right, ${pct(g.allWrong)} all wrong`],
        [`sampled accuracy (mean reward at T = ${g.temperature})`, `${pct(g.sampledAccuracy)}, mean response ${fixed(g.meanResponseTokens, 1)} tokens`],
        ["SFT loss (nats per response token)", `${fixed(d.loss.first, 2)} at step 1 -> ${fixed(last.loss, 3)} (mean of steps ${last.step - 49}-${last.step})`],
        ["wall time", `${fixed(d.wall_seconds.total, 1)} s (${fixed(d.wall_seconds.train, 1)} s training)`],
        ["parameters", grouped(d.parameters)],
      ],
    };
  },
  sweep: (d: Sweep) => ({
    table: [
      ["variant", "params", "held-out greedy", "mixed groups", "CPU s"],
      ...d.results.map((r) => [r.variant, grouped(r.parameters), pct(r.held_out_accuracy), pct(r.mixed_groups), fixed(r.cpu_seconds, 0)]),
    ],
  }),
};
