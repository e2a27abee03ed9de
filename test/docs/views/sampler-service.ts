// bench/results/sampler-service.json (npm run bench -- sampler-service): docs/BENCHMARKS.md, "The sampler
// service" (issue 18).
import { fixed, grouped } from "../support/format.js";
import type { View } from "./view.js";

interface Summary {
  median: number;
  min: number;
  max: number;
}
interface Row {
  window: number;
  serviceGroupsPerS: Summary;
  rawGroupsPerS: Summary;
  ratio: Summary;
  boundedServiceRuns: number;
  durable: { snapshotWritesPerGroup: Summary; snapshotBytesPerGroup: Summary; totalBytesPerGroup: Summary };
  snapshotAtEnd: { objectBytes: number };
}
interface SamplerService {
  goal: string;
  goalVerdict: string;
  setup: { runs: number };
  rows: Row[];
}

/** median (min–max), `digits` after the point. */
const spread = (s: Summary, digits: number) => `${fixed(s.median, digits)} (${fixed(s.min, digits)}–${fixed(s.max, digits)})`;
const mb = (bytes: number) => `${fixed(bytes / 1e6, 2)} MB`;
const windowLabel = (w: number) => (w >= 1e6 ? `${w / 1e6}M` : w >= 1e3 ? `${w / 1e3}k` : `${w}`);

export const views: Record<string, View> = {
  rates: (d: SamplerService) => ({
    table: [
      ["W", "service groups/s", "raw JetStream groups/s", "service / raw", "time-bounded service runs", "durable bytes per group", "snapshot writes per group", "snapshot at the end"],
      ...d.rows.map((r) => [
        windowLabel(r.window),
        spread(r.serviceGroupsPerS, 1),
        spread(r.rawGroupsPerS, 0),
        spread(r.ratio, 4),
        `${r.boundedServiceRuns} of ${d.setup.runs}`,
        mb(r.durable.totalBytesPerGroup.median),
        fixed(r.durable.snapshotWritesPerGroup.median, 2),
        mb(r.snapshotAtEnd.objectBytes),
      ]),
    ],
  }),
  goal: (d: SamplerService) => {
    const g = d.rows.find((r) => r.window === 100_000);
    return { quotes: [d.goalVerdict, ...(g ? [`${spread(g.ratio, 4)}`] : []), `${grouped(d.rows.length)} windows`] };
  },
};
