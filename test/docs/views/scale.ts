// bench/results/scale.json (npm run bench -- scale): docs/BENCHMARKS.md, "Scale-out".
import { fixed, grouped } from "../support/format.js";
import type { View } from "./view.js";

interface Level {
  actors: number;
  offeredGroupsPerS: number;
  publishedGroupsPerS: number;
  verifiedGroupsPerS: number;
  judgedGroupsPerS: number;
  trainedGroupsPerS: number;
  updatesPerS: number;
  machineBusy: number;
  cpu: { verifier: number; sampler: number; learner: number; natsServer: number; sims: number };
  verifierBacklog: number;
}
type Scale = { levels: Level[] };

const one = (x: number) => fixed(x, 1);
const at = (d: Scale, actors: number) => d.levels.find((l) => l.actors === actors)!;
const peak = (d: Scale, f: (l: Level) => number) => d.levels.reduce((a, b) => (f(b) > f(a) ? b : a));

export const views: Record<string, View> = {
  stages: (d: Scale) => ({
    table: [
      ["actors", "offered", "published", "verified", "judged (sampler)", "trained (learner)", "updates/s", "machine busy", "CPU: verifier / sampler / learner / nats-server / actors"],
      ...d.levels.map((l) => [
        `${l.actors}`,
        `${Number(l.offeredGroupsPerS.toFixed(1))}`,
        one(l.publishedGroupsPerS),
        one(l.verifiedGroupsPerS),
        one(l.judgedGroupsPerS),
        one(l.trainedGroupsPerS),
        fixed(l.updatesPerS, 2),
        `${(l.machineBusy * 100).toFixed(0)}%`,
        [l.cpu.verifier, l.cpu.sampler, l.cpu.learner, l.cpu.natsServer, l.cpu.sims].map((x) => fixed(x, 2)).join(" / "),
      ]),
    ],
  }),
  reading: (d: Scale) => {
    const linear = d.levels.filter((l) => l.actors <= 8).map((l) => l.trainedGroupsPerS / l.judgedGroupsPerS);
    const trained = peak(d, (l) => l.trainedGroupsPerS);
    const judged = peak(d, (l) => l.judgedGroupsPerS);
    const last = at(d, 64);
    return {
      quotes: [
        `${(Math.min(...linear) * 100).toFixed(0)}–${(Math.max(...linear) * 100).toFixed(0)}% of the judged groups are trained`,
        `Trained peaks at ${trained.actors} actors: ${one(trained.trainedGroupsPerS)} groups/s (${trained.updatesPerS.toFixed(0)} updates/s)`,
        `Judged peaks at ${judged.actors} actors: ${judged.judgedGroupsPerS.toFixed(0)} groups/s`,
        `judged falls to ${last.judgedGroupsPerS.toFixed(0)} groups/s`,
        `${last.verifiedGroupsPerS.toFixed(0)} of ${last.publishedGroupsPerS.toFixed(0)} groups/s, with ${grouped(last.verifierBacklog)} waiting`,
      ],
    };
  },
};
