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
  leadIn?: { serviceGroupsPerS: Summary; rawGroupsPerS: Summary; ratio: Summary };
  boundedServiceRuns: number;
  durable: {
    snapshotWritesPerGroup: Summary;
    stateBytesPerGroup: Summary;
    stateBytesPerGroupSteady?: Summary;
    outputBytesPerGroup: { events: Summary; batches: Summary; objectsByReference: Summary };
  };
  snapshotAtEnd: { objectBytes: number; uidSegments: { count: number; bytes: number }; windowSegments?: { count: number; bytes: number } };
  cpuMicrosPerGroup: Record<"serviceSampler" | "serviceNatsServer" | "serviceBench" | "rawNatsServer" | "rawBench", Summary>;
  runs: Array<{ ratio: number; service: TrialRow; raw: TrialRow }>;
}
interface TrialRow {
  groupsPerS: number;
  /** Absent in results from before the readers had threads of their own. */
  publisherThreadBusy?: number;
  cpuMicrosPerGroup: { natsServer: number };
  done: number;
  /** nats-server's reads from storage over the trial; absent in results from before it was recorded. */
  natsReadBytes?: number;
}
interface SamplerService {
  goal: string;
  goalVerdict: string;
  setup: { runs: number };
  rows: Row[];
}

/** median (min–max), `digits` after the point. */
const spread = (s: Summary, digits: number) => `${fixed(s.median, digits)} (${fixed(s.min, digits)}–${fixed(s.max, digits)})`;
const kb = (bytes: number) => `${fixed(bytes / 1e3, 1)} kB`;
const mb = (bytes: number) => `${fixed(bytes / 1e6, 2)} MB`;
const ms = (micros: number) => fixed(micros / 1000, 2);
const windowLabel = (w: number) => (w >= 1e6 ? `${w / 1e6}M` : w >= 1e3 ? `${w / 1e3}k` : `${w}`);

/** Measured bytes per group and, in results with a window log, with its base amortized (which large W's trials do not reach). */
function stateBytes(d: Row["durable"]): string {
  const b = (x: number) => `${grouped(Math.round(x))} B`;
  return d.stateBytesPerGroupSteady ? `${b(d.stateBytesPerGroup.median)} (${b(d.stateBytesPerGroupSteady.median)})` : b(d.stateBytesPerGroup.median);
}

/** The snapshot and the segments it names (a window log only in results from after the log came in). */
function atEnd(a: Row["snapshotAtEnd"]): string {
  const w = a.windowSegments;
  const segments = (n: number, what: string) => `${grouped(n)} ${what} segment${n === 1 ? "" : "s"}`;
  const parts = `${segments(a.uidSegments.count, "uid")}${w ? `, ${segments(w.count, "window")}` : ""}`;
  return `${mb(a.objectBytes + a.uidSegments.bytes + (w?.bytes ?? 0))} (${parts})`;
}

export const views: Record<string, View> = {
  rates: (d: SamplerService) => ({
    table: [
      ["W", "service groups/s", "raw JetStream groups/s", "service / raw", "time-bounded service runs", "durable state per group (with the window's base, amortized)", "snapshots per 1,000 groups", "output per group (events + batches)", "snapshot, uids and window log at the end"],
      ...d.rows.map((r) => {
        const o = r.durable.outputBytesPerGroup;
        return [
          windowLabel(r.window),
          spread(r.serviceGroupsPerS, 1),
          spread(r.rawGroupsPerS, 0),
          spread(r.ratio, 3),
          `${r.boundedServiceRuns} of ${d.setup.runs}`,
          stateBytes(r.durable),
          fixed(r.durable.snapshotWritesPerGroup.median * 1000, 2),
          kb(o.events.median + o.batches.median + o.objectsByReference.median),
          atEnd(r.snapshotAtEnd),
        ];
      }),
    ],
  }),
  cpu: (d: SamplerService) => ({
    table: [
      ["W", "service path: sampler", "service path: nats-server", "service path: bench process", "service path: total", "raw path: nats-server", "raw path: bench process", "raw path: total"],
      ...d.rows.map((r) => {
        const c = r.cpuMicrosPerGroup;
        return [
          windowLabel(r.window),
          ms(c.serviceSampler.median), ms(c.serviceNatsServer.median), ms(c.serviceBench.median),
          ms(c.serviceSampler.median + c.serviceNatsServer.median + c.serviceBench.median),
          ms(c.rawNatsServer.median), ms(c.rawBench.median), ms(c.rawNatsServer.median + c.rawBench.median),
        ];
      }),
    ],
  }),
  // Every timed run, in order: which runs miss the goal, and whether the publishers' thread set the rate.
  runs: (d: SamplerService) => ({
    table: [
      ["W", "run", "service groups/s", "raw groups/s", "service / raw", "publishers' thread busy, service / raw", "nats-server CPU per group, service / raw (µs)", "nats-server's reads from storage per group, service / raw"],
      ...d.rows.flatMap((r) =>
        r.runs.map((x, i) => [
          windowLabel(r.window), `${i + 1}`, fixed(x.service.groupsPerS, 0), fixed(x.raw.groupsPerS, 0), fixed(x.ratio, 3),
          x.service.publisherThreadBusy === undefined ? "-" : `${fixed(x.service.publisherThreadBusy, 2)} / ${fixed(x.raw.publisherThreadBusy!, 2)}`,
          `${fixed(x.service.cpuMicrosPerGroup.natsServer, 0)} / ${fixed(x.raw.cpuMicrosPerGroup.natsServer, 0)}`,
          x.service.natsReadBytes === undefined ? "-" : `${kb(x.service.natsReadBytes / x.service.done)} / ${kb(x.raw.natsReadBytes! / x.raw.done)}`,
        ]),
      ),
    ],
  }),
  // The untimed lead-ins: each the first trial of its path after the other path's.
  leadIn: (d: SamplerService) => ({
    table: [
      ["W", "first service trial after a raw one, groups/s", "first raw trial after a service one, groups/s", "their ratio", "timed service / raw (as above)"],
      ...d.rows.filter((r) => r.leadIn).map((r) => [
        windowLabel(r.window), spread(r.leadIn!.serviceGroupsPerS, 1), spread(r.leadIn!.rawGroupsPerS, 0), spread(r.leadIn!.ratio, 3), spread(r.ratio, 3),
      ]),
    ],
  }),
  goal: (d: SamplerService) => {
    const g = d.rows.find((r) => r.window === 100_000);
    return { quotes: [d.goalVerdict, ...(g ? [spread(g.ratio, 3)] : [])] };
  },
};
