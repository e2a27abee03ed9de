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
interface AcrossHosts {
  rolloutHosts: number;
  natsServers: number;
  replicas: number;
  levels: Level[];
}
type Scale = { levels: Level[]; acrossHosts?: AcrossHosts[] };

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
        `${grouped(last.verifierBacklog)} groups waiting for the verifier`,
      ],
    };
  },
  // One row per level: judged and trained groups/s on this machine alone, then across each count of
  // rollout hosts (the namespace cluster), from the same run of the bench.
  hosts: (d: Scale) => {
    const across = d.acrossHosts ?? [];
    const pair = (l: Level | undefined) => (l ? `${one(l.judgedGroupsPerS)} / ${one(l.trainedGroupsPerS)}` : "—");
    return {
      table: [
        ["actors", "one host: judged / trained", ...across.map((h) => `${h.rolloutHosts} rollout hosts: judged / trained`), "machine busy (one host / " + across.map((h) => `${h.rolloutHosts} hosts`).join(" / ") + ")"],
        ...d.levels.map((l) => [
          `${l.actors}`,
          pair(l),
          ...across.map((h) => pair(h.levels.find((x) => x.actors === l.actors))),
          [l, ...across.map((h) => h.levels.find((x) => x.actors === l.actors))].map((x) => (x ? `${(x.machineBusy * 100).toFixed(0)}%` : "—")).join(" / "),
        ]),
      ],
    };
  },
  "hosts-peak": (d: Scale) => {
    const best = (levels: Level[]) => levels.reduce((a, b) => (b.trainedGroupsPerS > a.trainedGroupsPerS ? b : a));
    const local = best(d.levels);
    return {
      quotes: [
        `one host: ${one(local.trainedGroupsPerS)} groups/s at ${local.actors} actors`,
        ...(d.acrossHosts ?? []).map((h) => {
          const b = best(h.levels);
          return `${h.rolloutHosts} rollout hosts: ${one(b.trainedGroupsPerS)} groups/s at ${b.actors} actors`;
        }),
      ],
    };
  },
};
