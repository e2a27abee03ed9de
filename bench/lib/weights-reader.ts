// A stand-in rollout actor for bench/weights.ts: its own process and NATS connection, fetching weights from
// the object store with getBlob exactly as services/rollout's weights follower does. Driven over IPC:
//   parent -> { name, bytes, digest? }   child -> { ok, seconds, error? }
import { connectBus, getBlob, openObjectStore, OBJECT_STORES } from "@lspo/bus";
import { setSha256Backend } from "@nats-io/obj";

interface Fetch {
  name: string;
  bytes: number;
  /** Object-store digest backend for this fetch; the library's choice when absent. */
  digest?: "js" | "native";
}

const url = process.argv[2];
if (!url) throw new Error("weights-reader: pass the NATS url as the first argument");
const nc = await connectBus({ url, name: `bench-weights-reader-${process.pid}` });
const store = await openObjectStore(nc, OBJECT_STORES.weights);
const send = (m: unknown) => process.send!(m);

process.on("message", (msg: Fetch | "exit") => {
  if (msg === "exit") {
    void nc.close().then(() => process.exit(0));
    return;
  }
  void (async () => {
    try {
      if (msg.digest) setSha256Backend(msg.digest);
      const t = process.hrtime.bigint();
      const data = await getBlob(store, msg.name); // the object store checks the SHA-256 digest on the way
      const seconds = Number(process.hrtime.bigint() - t) / 1e9;
      if (data.byteLength !== msg.bytes) throw new Error(`got ${data.byteLength} bytes of '${msg.name}', expected ${msg.bytes}`);
      send({ ok: true, seconds });
    } catch (err) {
      send({ ok: false, error: (err as Error).message });
    }
  })();
});
send({ ready: true });
