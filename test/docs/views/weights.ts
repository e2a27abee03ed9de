// bench/results/weights.json (npm run bench -- weights): docs/BENCHMARKS.md, "Weight broadcast".
import { fixed, grouped, spread, type Spread } from "../support/format.js";
import type { View } from "./view.js";

interface Row {
  size: string;
  readers: number;
  putSeconds: Spread;
  broadcastSeconds: Spread;
  aggregateGBPerS: Spread;
  readerPeakRssMiB: number;
}
interface Weights {
  rows: Row[];
  skipped: { size: string; readers: number; reason: string }[];
  comparison: { variant: string; putSeconds: Spread; getSeconds: Spread; putVsProduct: Spread; getVsProduct: Spread; readerPeakRssMiB: Spread }[];
}

const seconds = (s: Spread) => `${spread(s, (x) => fixed(x, 3))}`.replace(" (", " s (");
const mib = (x: number) => `${grouped(x)} MiB`;

const at = (d: Weights, size: string, readers: number) => d.rows.find((r) => r.size === size && r.readers === readers)!;

export const views: Record<string, View> = {
  reading: (d: Weights) => {
    const aggregates = d.rows.map((r) => r.aggregateGBPerS.median);
    const b = (size: string, readers: number, digits: number) => `${fixed(at(d, size, readers).broadcastSeconds.median, digits)} s`;
    return {
      quotes: [
        `between ${fixed(Math.min(...aggregates), 2)} and ${fixed(Math.max(...aggregates), 2)} GB/s`,
        `${b("128 MB", 1, 2)} to one reader, ${b("128 MB", 4, 2)} to 4, ${b("128 MB", 16, 2)} to 16`,
        `1 MB reaches one reader in ${b("1 MB", 1, 3)} and 16 readers in ${b("1 MB", 16, 3)}`,
        `1 GB peaked at ${mib(at(d, "1 GB", 1).readerPeakRssMiB)}`,
      ],
    };
  },
  broadcast: (d: Weights) => ({
    table: [
      ["weights", "put", "readers", "broadcast", "aggregate GB/s", "reader peak RSS"],
      ...d.rows.map((r) => [r.size, seconds(r.putSeconds), `${r.readers}`, seconds(r.broadcastSeconds), spread(r.aggregateGBPerS, (x) => fixed(x, 3)), mib(r.readerPeakRssMiB)]),
      ...d.skipped.map((s) => [s.size, "", `${s.readers}`, `skipped: ${s.reason}`, "", ""]),
    ],
  }),
  "side-by-side": (d: Weights) => ({
    table: [
      ["variant", "put", "get", "put, x", "get, x", "reader peak RSS"],
      ...d.comparison.map((c) => [
        c.variant,
        `${spread(c.putSeconds, (x) => fixed(x, 2))}`.replace(" (", " s ("),
        `${spread(c.getSeconds, (x) => fixed(x, 2))}`.replace(" (", " s ("),
        spread(c.putVsProduct, (x) => fixed(x, 2)),
        spread(c.getVsProduct, (x) => fixed(x, 2)),
        `${spread(c.readerPeakRssMiB, (x) => fixed(x, 0))}`.replace(" (", " MiB ("),
      ]),
    ],
  }),
};
