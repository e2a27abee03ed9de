// The two readers of the sampler-service bench (bench/sampler-service.ts), each on a thread of its own
// (worker_threads) and a NATS connection of its own, as in a deployment each is another process than the
// publishers:
//   raw:     the raw path's consumer: pulls (64 per pull, as the sampler pulls) and acks, nothing else; it pulls
//            only between `start` and `stop` (during raw trials).
//   learner: the learner's side: a durable consumer of the run's batches (4 per pull); each batch's groups
//            fetched from LSPO_VERIFIED by sequence (direct gets, a batch's in parallel), checked by their
//            summary headers and not decoded (as the raw path decodes nothing), then the batch is acked.
// On one thread with the publishers, the bench measured its own event loop: it ran 95-99% busy through every
// raw trial (ad hoc, performance.eventLoopUtilization), so the raw path's rate was the bench thread's.
//
// Progress goes to the bench as messages: { done, at } (raw: messages acked since the last report) and
// { batch } (learner: one per batch), `at` on the shared clock (performance.timeOrigin + performance.now()).
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { connectBus, consume, fetchGroupRefs, jetstream, jetstreamManager } from "@lspo/bus";
import type { TrainingBatch } from "@lspo/proto";

/** What a reader thread reads: a stream's durable consumer, over a connection of its own. */
interface ReaderBase {
  url: string;
  run: string;
  stream: string;
  durable: string;
}
export type ReaderConfig =
  | (ReaderBase & { role: "raw"; /** Messages per pull. */ pullBatch: number })
  | (ReaderBase & {
      role: "learner";
      /** `groups` fetches each batch's groups, `none` takes the batch only (the --fetch none diagnostic). */
      fetch: "groups" | "none";
      /** The groups every batch must name, and the largest batch message accepted. */
      batchSize: number;
      maxBatchBytes: number;
    });
export type ReaderCommand = { cmd: "start" } | { cmd: "stop" };
export type ReaderReport =
  | { type: "ready" }
  | { type: "started" }
  | { type: "done"; n: number; at: number }
  | { type: "batch"; uids: string[]; groups: number; at: number }
  | { type: "stopped" };

const clock = () => performance.timeOrigin + performance.now();

async function rawReader(c: Extract<ReaderConfig, { role: "raw" }>, port: NonNullable<typeof parentPort>): Promise<void> {
  const nc = await connectBus({ url: c.url, name: `bench-raw-${c.run}` });
  const consumer = await jetstream(nc).consumers.get(c.stream, c.durable);
  let pending = 0;
  let scheduled = false;
  // Acks are reported in bunches (one message per turn of the loop, not per ack): what the bench needs is
  // the count and the time of the last one.
  const report = () => {
    scheduled = false;
    if (pending === 0) return;
    port.postMessage({ type: "done", n: pending, at: clock() } satisfies ReaderReport);
    pending = 0;
  };
  let running: { close: () => Promise<void> } | null = null;
  port.on("message", (m: ReaderCommand) => {
    if (m.cmd === "start") {
      void (async () => {
        const messages = await consumer.consume({ max_messages: c.pullBatch });
        const loop = (async () => {
          for await (const msg of messages) {
            msg.ack();
            pending++;
            if (!scheduled) {
              scheduled = true;
              setImmediate(report);
            }
          }
        })();
        running = {
          close: async () => {
            await messages.close();
            await loop;
            report();
          },
        };
        port.postMessage({ type: "started" } satisfies ReaderReport);
      })().catch(fail);
    } else if (m.cmd === "stop") {
      void (async () => {
        await running?.close();
        running = null;
        port.postMessage({ type: "stopped" } satisfies ReaderReport);
      })().catch(fail);
    }
  });
  port.postMessage({ type: "ready" } satisfies ReaderReport);
}

async function learnerReader(c: Extract<ReaderConfig, { role: "learner" }>, port: NonNullable<typeof parentPort>): Promise<void> {
  const nc = await connectBus({ url: c.url, name: `bench-learner-${c.run}` });
  const jsm = await jetstreamManager(nc);
  const batches = await consume<TrainingBatch>(jetstream(nc), {
    stream: c.stream, durable: c.durable, kind: "TrainingBatch", batch: 4, maxBytes: c.maxBatchBytes,
  });
  const loop = (async () => {
    for await (const d of batches) {
      // Their bytes reach this thread, as every message's bytes reach the raw path's consumer. Neither path
      // decodes the groups: decoding them is the learner's work whatever path brought them.
      const groups = c.fetch === "groups" ? await fetchGroupRefs(jsm, d.body.groupRefs) : d.body.groupRefs;
      if (groups.length !== c.batchSize) throw new Error(`batch ${d.body.batchIndex} names ${groups.length} groups, not ${c.batchSize}`);
      d.ack();
      port.postMessage({ type: "batch", uids: d.body.groupRefs.map((r) => r.uid), groups: groups.length, at: clock() } satisfies ReaderReport);
    }
  })();
  loop.catch(fail);
  port.on("message", (m: ReaderCommand) => {
    if (m.cmd !== "stop") return;
    void (async () => {
      await batches.stop();
      await loop.catch(() => undefined);
      await nc.close();
      port.postMessage({ type: "stopped" } satisfies ReaderReport);
    })().catch(fail);
  });
  port.postMessage({ type: "ready" } satisfies ReaderReport);
}

// A reader that fails ends its thread with the error: the bench fails with it (Worker 'error').
function fail(err: unknown): void {
  setImmediate(() => {
    throw err;
  });
}

if (!isMainThread && parentPort) {
  const c = workerData as ReaderConfig;
  void (c.role === "raw" ? rawReader(c, parentPort) : learnerReader(c, parentPort)).catch(fail);
}

/** The bench's side of a reader thread. */
export class ReaderThread {
  private readonly worker: Worker;
  private waiting: { type: ReaderReport["type"]; resolve: () => void; reject: (err: Error) => void } | null = null;
  private failure: Error | null = null;

  private constructor(config: ReaderConfig, onReport: (r: ReaderReport) => void) {
    // The bench runs from source under tsx, whose loader a worker does not inherit: the thread registers it
    // before it imports this module.
    const bootstrap = `import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); });`;
    this.worker = new Worker(bootstrap, { eval: true, workerData: config });
    this.worker.on("message", (r: ReaderReport) => {
      onReport(r);
      if (this.waiting && r.type === this.waiting.type) {
        const w = this.waiting;
        this.waiting = null;
        w.resolve();
      }
    });
    this.worker.on("error", (err) => {
      this.failure = err;
      this.waiting?.reject(this.failed());
      this.waiting = null;
    });
  }

  static async open(config: ReaderConfig, onReport: (r: ReaderReport) => void): Promise<ReaderThread> {
    const t = new ReaderThread(config, onReport);
    await t.until("ready", null);
    return t;
  }

  /** Throws the reader's error, if it failed. */
  check(): void {
    if (this.failure) throw this.failed();
  }

  start(): Promise<void> {
    return this.until("started", { cmd: "start" });
  }

  stop(): Promise<void> {
    return this.until("stopped", { cmd: "stop" });
  }

  async close(): Promise<void> {
    await this.stop();
    await this.worker.terminate();
  }

  private failed(): Error {
    return new Error(`bench sampler-service: a reader thread failed: ${this.failure?.message}`, { cause: this.failure });
  }

  private until(type: ReaderReport["type"], cmd: ReaderCommand | null): Promise<void> {
    this.check();
    const done = new Promise<void>((resolve, reject) => {
      this.waiting = { type, resolve, reject };
    });
    if (cmd) this.worker.postMessage(cmd);
    return done;
  }
}
