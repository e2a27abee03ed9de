// `npm run bench -- weights` (issue 9, item 6, second half): weight broadcast through the NATS object store.
// The learner puts one weights blob (putBlob); N rollout actors (N = 1, 4, 16 separate processes, each with
// its own connection, as services/rollout fetches) getBlob it at the same moment. Reports the put time, the
// broadcast wall time (first request to last reader done) and aggregate GB/s = N x size / wall, as
// median (min–max) over runs, per weight size. Sizes or reader counts that would not fit in memory or in
// the time budget are skipped and listed with the reason. A last section compares the object store's two
// SHA-256 backends (@lspo/bus selects node:crypto; nats obj's default is pure JS) on one 128 MB put + get.
// Writes bench/results/weights.json.
import { fork, type ChildProcess } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { freemem, loadavg } from "node:os";
import { join } from "node:path";
import { OBJECT_STORES, connectBus, openObjectStore, putBlob, startNatsServer } from "@lspo/bus";
import { setSha256Backend } from "@nats-io/obj";
import { fmt, machine, secondsSince, summarize, type Summary } from "./lib/stats.js";

const MB = 1024 * 1024;
const SIZES = [1 * MB, 16 * MB, 128 * MB, 1024 * MB];
const READERS = [1, 4, 16];
const RUNS: Record<number, number> = { [MB]: 5, [16 * MB]: 5, [128 * MB]: 3, [1024 * MB]: 1 };
/** Whole benchmark's wall budget: a combination whose estimate would overrun it is skipped. */
const BUDGET_S = 140;
/** getBlob holds the chunks and their concatenation at once: ~2x the object per reader, plus headroom. */
const MEMORY_PER_READER = 2.5;
const MEMORY_RESERVE = 4 * 1024 * MB;

interface Reader {
  child: ChildProcess;
  fetch(name: string, bytes: number, digest?: "js" | "native"): Promise<number>;
}

function startReader(url: string): Promise<Reader> {
  const child = fork(join(import.meta.dirname, "lib", "weights-reader.ts"), [url], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  let pending: { resolve: (s: number) => void; reject: (e: Error) => void } | null = null;
  child.on("message", (m: { ok?: boolean; seconds?: number; error?: string; ready?: boolean }) => {
    if (m.ready || !pending) return;
    const p = pending;
    pending = null;
    if (m.ok) p.resolve(m.seconds!);
    else p.reject(new Error(`reader ${child.pid}: ${m.error}`));
  });
  child.on("exit", (code) => pending?.reject(new Error(`reader ${child.pid} exited (code ${code}) during a fetch`)));
  const reader: Reader = {
    child,
    fetch(name, bytes, digest) {
      if (pending) throw new Error("a reader fetches one blob at a time");
      return new Promise((resolve, reject) => {
        pending = { resolve, reject };
        child.send({ name, bytes, digest });
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
async function broadcast(readers: Reader[], name: string, bytes: number, digest?: "js" | "native"): Promise<{ wallS: number; readerS: number[] }> {
  const t = process.hrtime.bigint();
  const readerS = await Promise.all(readers.map((r) => r.fetch(name, bytes, digest)));
  return { wallS: secondsSince(t), readerS };
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
  const measured = new Map<number, { put: number[]; wall: number[]; slowest: number[] }>();
  for (let r = 0; r < runs; r++) {
    const name = `weights-${bytes}-${r}`;
    const elapsed = secondsSince(started);
    if (putRate && elapsed + gb(bytes) / putRate > BUDGET_S) {
      skipped.push({ size: label(bytes), readers: 0, reason: `putting it would overrun the ${BUDGET_S} s budget` });
      break;
    }
    let t = process.hrtime.bigint();
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
      const { wallS, readerS } = await broadcast(readers.slice(0, n), name, bytes);
      lastRate.set(n, (n * gb(bytes)) / wallS);
      const m = measured.get(n) ?? { put: [], wall: [], slowest: [] };
      measured.set(n, m);
      m.put.push(putS);
      m.wall.push(wallS);
      m.slowest.push(Math.max(...readerS));
    }
    t = process.hrtime.bigint();
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
    };
    rows.push(row);
    console.log(
      `${row.size.padStart(6)} x ${String(n).padStart(2)} readers  put ${fmt(row.putSeconds, 3)} s  broadcast ${fmt(row.broadcastSeconds, 3)} s  ` +
        `aggregate ${fmt(row.aggregateGBPerS, 3)} GB/s  (${row.runs} runs)`,
    );
  }
}
// The digest backend, side by side in the same run: put here and get by one reader, with each backend.
const DIGEST_BYTES = 128 * MB;
const DIGEST_RUNS = 3;
const digestBlob = randomFillSync(new Uint8Array(DIGEST_BYTES));
const digest: Record<"js" | "native", { put: number[]; get: number[] }> = { js: { put: [], get: [] }, native: { put: [], get: [] } };
for (let r = 0; r < DIGEST_RUNS; r++) {
  for (const backend of r % 2 ? (["native", "js"] as const) : (["js", "native"] as const)) {
    setSha256Backend(backend);
    const name = `digest-${backend}-${r}`;
    const t = process.hrtime.bigint();
    await putBlob(store, name, digestBlob);
    digest[backend].put.push(secondsSince(t));
    digest[backend].get.push((await broadcast(readers.slice(0, 1), name, DIGEST_BYTES, backend)).wallS);
    await store.delete(name);
  }
}
setSha256Backend("native");
const digestRows = (["put", "get"] as const).map((op) => ({
  op,
  size: label(DIGEST_BYTES),
  jsSeconds: summarize(digest.js[op]),
  nativeSeconds: summarize(digest.native[op]),
  speedup: summarize(digest.js[op].map((js, i) => js / digest.native[op][i])),
}));
for (const d of digestRows) console.log(`digest ${d.op} ${d.size}: js ${fmt(d.jsSeconds, 2)} s, node:crypto ${fmt(d.nativeSeconds, 2)} s, speedup ${fmt(d.speedup, 2)}x`);
for (const s of skipped) console.log(`skipped ${s.size}${s.readers ? ` x ${s.readers} readers` : ""}: ${s.reason}`);

const totalS = secondsSince(started);
for (const r of readers) r.child.send("exit");
await nc.close();
await server.stop();

const result = {
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
  digestBackend: digestRows,
};
writeFileSync(join(import.meta.dirname, "results", "weights.json"), `${JSON.stringify(result, null, 2)}\n`);
console.log(`total ${totalS.toFixed(0)} s (readers started in ${readersStartS.toFixed(1)} s)`);
