// A stand-in rollout actor for bench/weights.ts: its own process and NATS connection, fetching weights from
// the object store with getBlob exactly as services/rollout's weights follower does. Driven over IPC:
//   parent -> { name, bytes, digest?, getBlob? }   child -> { ok, seconds, maxRssBytes, error? }
import { readFileSync } from "node:fs";
import { connectBus, getBlob, openObjectStore, OBJECT_STORES } from "@lspo/bus";
import { setSha256Backend } from "@nats-io/obj";

interface Fetch {
  name: string;
  bytes: number;
  /** Object-store digest backend for this fetch; @lspo/bus's choice (node:crypto) when absent. */
  digest?: "js" | "native";
  /** "nats": the object store's own getBlob instead of @lspo/bus's (for the side-by-side comparison). */
  getBlob?: "lspo" | "nats";
}

const url = process.argv[2];
if (!url) throw new Error("weights-reader: pass the NATS url as the first argument");
const nc = await connectBus({ url, name: `bench-weights-reader-${process.pid}` });
const store = await openObjectStore(nc, OBJECT_STORES.weights);
const send = (m: unknown) => process.send!(m);

/**
 * This process's peak resident memory (Linux VmHWM), or -1 where /proc is unavailable. Not getrusage's
 * maxrss: that survives exec, so a forked child starts with its parent's RSS as its maximum.
 */
function peakRssBytes(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
    return m ? Number(m[1]) * 1024 : -1;
  } catch {
    return -1;
  }
}

process.on("message", (msg: Fetch | "exit") => {
  if (msg === "exit") {
    void nc.close().then(() => process.exit(0));
    return;
  }
  void (async () => {
    try {
      if (msg.digest) setSha256Backend(msg.digest);
      const t = process.hrtime.bigint();
      // Either way the object store checks the SHA-256 digest on the way.
      const data = msg.getBlob === "nats" ? await store.getBlob(msg.name) : await getBlob(store, msg.name);
      if (!data) throw new Error(`object '${msg.name}' not found`);
      const seconds = Number(process.hrtime.bigint() - t) / 1e9;
      if (data.byteLength !== msg.bytes) throw new Error(`got ${data.byteLength} bytes of '${msg.name}', expected ${msg.bytes}`);
      send({ ok: true, seconds, maxRssBytes: peakRssBytes() });
    } catch (err) {
      send({ ok: false, error: (err as Error).message });
    }
  })();
});
send({ ready: true });
