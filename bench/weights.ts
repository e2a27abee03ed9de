// `npm run bench -- weights` (issue 9, item 6, second half): weight broadcast through the NATS object store.
// The learner puts one weights blob (putBlob); N rollout actors (N = 1, 4, 16 separate processes, each with
// its own connection, as services/rollout fetches) getBlob it at the same moment. Reports the put time, the
// broadcast wall time (first request to last reader done) and aggregate GB/s = N x size / wall, as
// median (min–max) over runs, per weight size. Sizes or reader counts that would not fit in memory or in
// the time budget are skipped and listed with the reason. A last section compares, on one 128 MB object
// and one reader (a fresh process per fetch, so its peak RSS belongs to that fetch), what @lspo/bus chose
// against the object store's defaults: the SHA-256 backend (node:crypto vs nats obj's pure JS, for put and
// get) and getBlob (ours fills one buffer vs nats obj's, which concatenates the chunks at the end).
// Writes bench/results/weights.json.
import { fork, type ChildProcess } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { freemem, loadavg } from "node:os";
import { join } from "node:path";
import { OBJECT_STORES, connectBus, openObjectStore, putBlob, startNatsServer } from "@lspo/bus";
import { setSha256Backend } from "@nats-io/obj";
import { fmt, machine, secondsSince, summarize, type Summary } from "./lib/stats.js";
import { startProvenance } from "@lspo/telemetry";
// Recorded from the start: a tree that changes while the benchmark runs makes the result "uncommitted".
const provenance = startProvenance({ ignore: /^bench\/results\// });

const MB = 1024 * 1024;
const SIZES = [1 * MB, 16 * MB, 128 * MB, 1024 * MB];
const READERS = [1, 4, 16];
const RUNS: Record<number, number> = { [MB]: 5, [16 * MB]: 5, [128 * MB]: 3, [1024 * MB]: 2 };
/** Wall budget of the size x readers matrix (the comparison after it takes ~30 s more): a combination whose estimate would overrun it is skipped. */
const BUDGET_S = 120;
/** A reader peaks at ~1.1x the object (getBlob fills one buffer of its size as chunks arrive); with headroom. */
const MEMORY_PER_READER = 1.5;
const MEMORY_RESERVE = 4 * 1024 * MB;

interface Fetched {
  seconds: number;
  /** The reader process's peak resident memory so far (its lifetime maximum, VmHWM; -1 if unknown). */
  maxRssBytes: number;
}

/** How a comparison fetch differs from the product's path. */
interface Variant {
  digest?: "js" | "native";
  getBlob?: "lspo" | "nats";
}

interface Reader {
  child: ChildProcess;
  fetch(name: string, bytes: number, variant?: Variant): Promise<Fetched>;
}

function startReader(url: string): Promise<Reader> {
  const child = fork(join(import.meta.dirname, "lib", "weights-reader.ts"), [url], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  let pending: { resolve: (f: Fetched) => void; reject: (e: Error) => void } | null = null;
  child.on("message", (m: { ok?: boolean; seconds?: number; maxRssBytes?: number; error?: string; ready?: boolean }) => {
    if (m.ready || !pending) return;
    const p = pending;
    pending = null;
    if (m.ok) p.resolve({ seconds: m.seconds!, maxRssBytes: m.maxRssBytes! });
    else p.reject(new Error(`reader ${child.pid}: ${m.error}`));
  });
  child.on("exit", (code) => pending?.reject(new Error(`reader ${child.pid} exited (code ${code}) during a fetch`)));
  const reader: Reader = {
    child,
    fetch(name, bytes, variant = {}) {
      if (pending) throw new Error("a reader fetches one blob at a time");
      return new Promise((resolve, reject) => {
        pending = { resolve, reject };
        child.send({ name, bytes, ...variant });
      });
    },
  };
  return new Promise((resolve, reject) => {
    child.once("message", () => resolve(reader));
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`reader exited during start (code ${code})`)));
  });
}

/** N readers fetch `name` at once: wall seconds until the last one has the verified bytes, and each reader's own time. */
async function broadcast(readers: Reader[], name: string, bytes: number): Promise<{ wallS: number; readerS: number[]; maxRssBytes: number }> {
  const t = process.hrtime.bigint();
  const fetched = await Promise.all(readers.map((r) => r.fetch(name, bytes)));
  return { wallS: secondsSince(t), readerS: fetched.map((f) => f.seconds), maxRssBytes: Math.max(...fetched.map((f) => f.maxRssBytes)) };
}

const gb = (bytes: number) => bytes / 1e9;
const label = (bytes: number) => (bytes >= 1024 * MB ? `${bytes / (1024 * MB)} GB` : `${bytes / MB} MB`);

const server = await startNatsServer();
const nc = await connectBus({ url: server.url, name: "bench-weights-publisher" });
const store = await openObjectStore(nc, OBJECT_STORES.weights);
const started = process.hrtime.bigint();
const loadBefore = loadavg();
const readers = await Promise.all(Array.from({ length: Math.max(...READERS) }, () => startReader(server.url)));
const readersStartS = secondsSince(started);

interface Row {
  size: string;
  bytes: number;
  readers: number;
  runs: number;
  putSeconds: Summary;
  broadcastSeconds: Summary;
  slowestReaderSeconds: Summary;
  aggregateGBPerS: Summary;
  /** Largest reader peak RSS seen by the end of this row (sizes run in ascending order). */
  readerPeakRssMiB: number;
}
const rows: Row[] = [];
const skipped: { size: string; readers: number; reason: string }[] = [];
/** Last measured aggregate GB/s per reader count, to estimate the next size's time. */
const lastRate = new Map<number, number>();
let putRate = 0;

for (const bytes of SIZES) {
  const runs = RUNS[bytes];
  const blob = new Uint8Array(bytes);
  randomFillSync(blob); // incompressible, like trained weights
  const measured = new Map<number, { put: number[]; wall: number[]; slowest: number[]; rss: number }>();
  for (let r = 0; r < runs; r++) {
    const name = `weights-${bytes}-${r}`;
    const elapsed = secondsSince(started);
    if (putRate && elapsed + gb(bytes) / putRate > BUDGET_S) {
      skipped.push({ size: label(bytes), readers: 0, reason: `putting it would overrun the ${BUDGET_S} s budget` });
      break;
    }
    const t = process.hrtime.bigint();
    await putBlob(store, name, blob);
    const putS = secondsSince(t);
    putRate = gb(bytes) / putS;
    // Alternate the order of reader counts between runs, so no count always reads a freshly written object.
    for (const n of r % 2 ? [...READERS].reverse() : READERS) {
      const need = n * bytes * MEMORY_PER_READER + MEMORY_RESERVE;
      const estimate = lastRate.has(n) ? (n * gb(bytes)) / lastRate.get(n)! : 0;
      const reason =
        need > freemem() ? `needs ~${(need / 2 ** 30).toFixed(0)} GiB free, ${(freemem() / 2 ** 30).toFixed(0)} GiB are`
        : secondsSince(started) + estimate > BUDGET_S ? `estimated ${estimate.toFixed(0)} s would overrun the ${BUDGET_S} s budget`
        : null;
      if (reason) {
        if (!skipped.some((s) => s.size === label(bytes) && s.readers === n)) skipped.push({ size: label(bytes), readers: n, reason });
        continue;
      }
      const { wallS, readerS, maxRssBytes } = await broadcast(readers.slice(0, n), name, bytes);
      lastRate.set(n, (n * gb(bytes)) / wallS);
      const m = measured.get(n) ?? { put: [], wall: [], slowest: [], rss: 0 };
      measured.set(n, m);
      m.rss = Math.max(m.rss, maxRssBytes);
      m.put.push(putS);
      m.wall.push(wallS);
      m.slowest.push(Math.max(...readerS));
    }
    await store.delete(name);
  }
  for (const [n, m] of [...measured].sort((a, b) => a[0] - b[0])) {
    const row: Row = {
      size: label(bytes),
      bytes,
      readers: n,
      runs: m.wall.length,
      putSeconds: summarize(m.put),
      broadcastSeconds: summarize(m.wall),
      slowestReaderSeconds: summarize(m.slowest),
      aggregateGBPerS: summarize(m.wall.map((w) => (n * gb(bytes)) / w)),
      readerPeakRssMiB: Math.round(m.rss / MB),
    };
    rows.push(row);
    console.log(
      `${row.size.padStart(6)} x ${String(n).padStart(2)} readers  put ${fmt(row.putSeconds, 3)} s  broadcast ${fmt(row.broadcastSeconds, 3)} s  ` +
        `aggregate ${fmt(row.aggregateGBPerS, 3)} GB/s  reader peak RSS ${row.readerPeakRssMiB} MiB  (${row.runs} runs)`,
    );
  }
}
// Side by side in the same run: the product's choices against the object store's defaults, 128 MB, one
// reader, a fresh reader process per fetch. Puts run here, with the backend under test.
const COMPARE_BYTES = 128 * MB;
const COMPARE_RUNS = 3;
const VARIANTS: Record<string, Variant> = {
  "@lspo/bus (node:crypto digest, one-buffer getBlob)": {},
  "pure-JS digest (nats obj default)": { digest: "js" },
  "nats obj getBlob (chunks concatenated at the end)": { getBlob: "nats" },
};
const compareBlob = randomFillSync(new Uint8Array(COMPARE_BYTES));
const compared = new Map<string, { put: number[]; get: number[]; rss: number[] }>(Object.keys(VARIANTS).map((k) => [k, { put: [], get: [], rss: [] }]));
for (let r = 0; r < COMPARE_RUNS; r++) {
  const names = Object.keys(VARIANTS);
  for (const variant of r % 2 ? names.reverse() : names) {
    const v = VARIANTS[variant];
    const m = compared.get(variant)!;
    setSha256Backend(v.digest ?? "native");
    const name = `compare-${r}-${names.indexOf(variant)}`;
    const t = process.hrtime.bigint();
    await putBlob(store, name, compareBlob);
    m.put.push(secondsSince(t));
    setSha256Backend("native");
    const reader = await startReader(server.url);
    const f = await reader.fetch(name, COMPARE_BYTES, v);
    reader.child.send("exit");
    m.get.push(f.seconds);
    m.rss.push(f.maxRssBytes / MB);
    await store.delete(name);
  }
}
const product = compared.get(Object.keys(VARIANTS)[0])!;
const comparison = [...compared].map(([variant, m]) => ({
  variant,
  size: label(COMPARE_BYTES),
  putSeconds: summarize(m.put),
  getSeconds: summarize(m.get),
  readerPeakRssMiB: summarize(m.rss),
  /** This variant's time over the product's, run by run. */
  putVsProduct: summarize(m.put.map((x, i) => x / product.put[i])),
  getVsProduct: summarize(m.get.map((x, i) => x / product.get[i])),
}));
for (const c of comparison) {
  console.log(
    `${c.variant}: put ${fmt(c.putSeconds, 2)} s (${fmt(c.putVsProduct, 2)}x), get ${fmt(c.getSeconds, 2)} s (${fmt(c.getVsProduct, 2)}x), ` +
      `reader peak RSS ${fmt(c.readerPeakRssMiB, 0)} MiB`,
  );
}
for (const s of skipped) console.log(`skipped ${s.size}${s.readers ? ` x ${s.readers} readers` : ""}: ${s.reason}`);

const totalS = secondsSince(started);
for (const r of readers) r.child.send("exit");
await nc.close();
await server.stop();

const result = {
  provenance: provenance.finish(),
  command: "npm run bench -- weights",
  date: new Date().toISOString(),
  machine: machine(),
  setup: {
    store: `object store '${OBJECT_STORES.weights}' (file storage, 128 KB chunks), one nats-server on loopback`,
    readers: "separate processes, one NATS connection each, getBlob as services/rollout does (digest checked by the object store)",
    metric: "broadcastSeconds = from the first request to the last reader holding the verified bytes; aggregateGBPerS = N x size / broadcastSeconds (GB = 1e9 bytes)",
    runsPerSize: Object.fromEntries(SIZES.map((s) => [label(s), RUNS[s]])),
    budgetSeconds: BUDGET_S,
  },
  readersStartSeconds: readersStartS,
  totalSeconds: totalS,
  loadAverage: { before: loadBefore, after: loadavg() },
  rows,
  skipped,
  comparison,
};
writeFileSync(join(import.meta.dirname, "results", "weights.json"), `${JSON.stringify(result, null, 2)}\n`);
console.log(`total ${totalS.toFixed(0)} s (readers started in ${readersStartS.toFixed(1)} s)`);
