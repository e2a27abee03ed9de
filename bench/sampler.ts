// `npm run bench -- sampler`: streaming-mode throughput (groups judged per second through
// StreamSampler.offer: validation, dedupe, accuracy filter, window insert/evict, quantiles, decision,
// pending batch, refill average) for W = 1k, 100k, 1M, with both order-statistics structures, and
// memory per window entry. Writes bench/results/sampler.json; docs/BENCHMARKS.md quotes it.
import { writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { createStreamSampler, LengthWindow, meanLength, orderStatisticsNames, UidSet, type Group } from "@lspo/lspo";
import { startProvenance } from "@lspo/telemetry";
// Recorded from the start: a tree that changes while the benchmark runs makes the result "uncommitted".
const provenance = startProvenance({ ignore: /^bench\/results\// });

const loadAtStart = loadavg()[0];
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const WINDOWS = [1_000, 100_000, 1_000_000];
// Many short runs: the machine is shared, so the median shows the typical rate and the best run the
// rate with the least interference; both are reported, with the rate per CPU-second of this process.
const OFFERS_PER_RUN = 250_000;
const RUNS = 7;
const G = 8;
const MAX_LEN = 2048;

/** mulberry32: a fixed stream of synthetic groups, the same for every structure. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// 4096 group bodies: G = 8 responses of 64..2048 tokens, 10% truncated at 2048; 15% all correct and
// 15% all wrong (70% survive the accuracy filter). Bodies are shared; every offered group gets a fresh uid.
const rand = prng(42);
const bodies = Array.from({ length: 4096 }, () => {
  const lengths = Array.from({ length: G }, () => (rand() < 0.1 ? MAX_LEN : 64 + Math.floor(rand() * (MAX_LEN - 64))));
  const r = rand();
  const rewards = r < 0.15 ? Array(G).fill(1) : r < 0.3 ? Array(G).fill(0) : Array.from({ length: G }, (_, i) => (i % 2 === 0 ? 1 : 0));
  return { lengths, rewards };
});
const groupsFor = (from: number, n: number): Group[] => Array.from({ length: n }, (_, i) => ({ uid: `prompt-${from + i}@0`, ...bodies[(from + i) % bodies.length] }));

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function heapBytes(): number {
  gc(); // twice: one full GC can leave what a finaliser or a weak reference only released during it
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

interface Row {
  structure: string;
  window: number;
  offerGroupsPerSec: number;
  offerBestGroupsPerSec: number;
  offerGroupsPerCpuSec: number;
  offerRuns: number[];
  windowOnlyGroupsPerSec: number;
  windowOnlyGroupsPerCpuSec: number;
  fillSeconds: number;
  bytesPerEntryMeasured: number;
  bytesPerEntryTyped: number;
  kept: number;
}

function benchOne(structure: string, W: number): Row {
  // Memory per entry: full windows holding 1M entries in all (several small windows when W < 1M, so the
  // heap delta stands well above GC noise), measured as heap + array buffers after a full GC.
  const lengths = Float64Array.from(groupsFor(0, 1 << 16), meanLength);
  const copies = Math.max(1, Math.round(1_000_000 / W));
  const before = heapBytes();
  const windows = Array.from({ length: copies }, () => {
    const w = new LengthWindow(W, structure);
    for (let i = 0; i < W; i++) w.push(lengths[i & 0xffff]);
    return w;
  });
  const bytesPerEntryMeasured = (heapBytes() - before) / (W * copies);
  const w = windows[0];
  const bytesPerEntryTyped = w.byteSize() / W;
  windows.length = 1; // w is reused for the window-only timing below

  const s = createStreamSampler({ batchSize: 512, window: W, orderStatistics: structure });
  // Fill the window (untimed in the throughput figure): offer until W survivor lengths are held.
  let next = 0;
  const t0 = performance.now();
  while (s.stats().window!.slots < W) {
    for (const g of groupsFor(next, 10_000)) s.offer(g);
    next += 10_000;
  }
  const fillSeconds = (performance.now() - t0) / 1000;
  const runs: number[] = [];
  const cpuRuns: number[] = [];
  let kept = 0;
  for (let r = 0; r < RUNS; r++) {
    const groups = groupsFor(next, OFFERS_PER_RUN);
    next += OFFERS_PER_RUN;
    const cpu = process.cpuUsage();
    const t = process.hrtime.bigint();
    for (const g of groups) if (s.offer(g).kept) kept++;
    runs.push(OFFERS_PER_RUN / (Number(process.hrtime.bigint() - t) / 1e9));
    const used = process.cpuUsage(cpu);
    cpuRuns.push(OFFERS_PER_RUN / ((used.user + used.system) / 1e6));
  }

  // The window alone: push a survivor's length, then the three-quantile judgement (no validation, dedupe
  // or bookkeeping), over the same lengths.
  let sink = 0;
  const windowRuns: number[] = [];
  const windowCpuRuns: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const cpu = process.cpuUsage();
    const t = process.hrtime.bigint();
    for (let i = 0; i < OFFERS_PER_RUN; i++) {
      const L = lengths[(i + r * 7919) & 0xffff];
      w.push(L);
      if (L <= w.quantile(0.3) || (L >= w.quantile(0.65) && L <= w.quantile(0.95))) sink++;
    }
    windowRuns.push(OFFERS_PER_RUN / (Number(process.hrtime.bigint() - t) / 1e9));
    const used = process.cpuUsage(cpu);
    windowCpuRuns.push(OFFERS_PER_RUN / ((used.user + used.system) / 1e6));
  }
  const windowOnlyGroupsPerSec = median(windowRuns);
  const windowOnlyGroupsPerCpuSec = median(windowCpuRuns);
  if (sink < 0) console.log(sink);
  return { structure, window: W, offerGroupsPerSec: median(runs), offerBestGroupsPerSec: Math.max(...runs), offerGroupsPerCpuSec: median(cpuRuns), offerRuns: runs, windowOnlyGroupsPerSec, windowOnlyGroupsPerCpuSec, fillSeconds, bytesPerEntryMeasured, bytesPerEntryTyped, kept };
}

/**
 * The dedupe set keeps every uid ever offered: adds per second into a set growing to n uids, for the
 * sampler's UidSet and a built-in Set, in the same run. (Not bytes: heap deltas of millions of small
 * strings depend on how V8 represents each string, which would measure V8 rather than the set.)
 */
function dedupeAddsPerSec(n: number): Record<string, number> {
  const out: Record<string, number> = {};
  const sets = { UidSet: () => new UidSet(), Set: () => new Set<string>() };
  for (const [name, make] of Object.entries(sets)) {
    const uids = Array.from({ length: n }, (_, i) => `prompt-${i}@${name}`);
    const seen = make();
    const t = process.hrtime.bigint();
    for (const u of uids) seen.add(u);
    out[name] = n / (Number(process.hrtime.bigint() - t) / 1e9);
    if (seen.size !== n) throw new Error(`${name} lost uids`);
  }
  return out;
}

const rows: Row[] = [];
for (const W of WINDOWS) {
  for (const structure of orderStatisticsNames) {
    const row = benchOne(structure, W);
    rows.push(row);
    const f = (x: number): string => `${(x / 1e6).toFixed(2)}M/s`;
    console.log(
      `${structure.padEnd(8)} W=${String(W).padStart(9)}  offer median ${f(row.offerGroupsPerSec)} best ${f(row.offerBestGroupsPerSec)} per CPU-s ${f(row.offerGroupsPerCpuSec)}  ` +
        `window only ${f(row.windowOnlyGroupsPerSec)} per CPU-s ${f(row.windowOnlyGroupsPerCpuSec)}  ${row.bytesPerEntryMeasured.toFixed(1)} B/entry (typed ${row.bytesPerEntryTyped.toFixed(1)})  fill ${row.fillSeconds.toFixed(2)} s`,
    );
  }
  // Both structures are exact, so over the same stream they must keep the same groups.
  const same = rows.filter((r) => r.window === W);
  if (new Set(same.map((r) => r.kept)).size !== 1) throw new Error(`structures disagree at W=${W}: ${same.map((r) => `${r.structure} kept ${r.kept}`).join(", ")}`);
}
const dedupe = dedupeAddsPerSec(1_500_000);
for (const [name, rate] of Object.entries(dedupe)) console.log(`dedupe ${name.padEnd(6)} ${(rate / 1e6).toFixed(2)}M adds/s into a set growing to 1.5M uids`);

const result = {
  provenance: provenance.finish(),
  command: "npm run bench -- sampler",
  date: new Date().toISOString(),
  machine: { cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, loadAverage1m: { start: loadAtStart, end: loadavg()[0] } },
  setup: {
    groupSize: G,
    responseTokens: `64..${MAX_LEN - 1} uniform, 10% truncated at ${MAX_LEN}`,
    accuracyFilterPass: 0.7,
    levels: "0.30 / 0.65 / 0.95",
    windowCounts: "survivors",
    offersPerRun: OFFERS_PER_RUN,
    runs: RUNS,
    metric:
      "offerGroupsPerSec / offerBestGroupsPerSec = median / best over runs of groups through StreamSampler.offer() with the window full (wall clock); " +
      "offerGroupsPerCpuSec = median over runs of groups per second of this process's CPU time (user + system, GC threads included), " +
      "less sensitive to other processes on a shared machine; " +
      "windowOnlyGroupsPerSec / windowOnlyGroupsPerCpuSec = the same for LengthWindow push + lazy three-quantile judgement alone",
  },
  rows,
  dedupeAddsPerSec: dedupe,
};
writeFileSync(join(import.meta.dirname, "results", "sampler.json"), `${JSON.stringify(result, null, 2)}\n`);
