// One level of bench/scale.ts: `actors` simulated rollout actors serving one run whose verifier, sampler and
// learner are already up. This process plays the controller: it keeps prompts queued for the actors
// (pausing while more than BACKLOG groups wait for the verifier), and after a warm-up counts, over a window,
// the groups at each stage's output and the CPU each process used. The same code runs on the machine's own
// network (bench/scale.ts) and on a host of the namespace cluster (scale-driver.ts), where every process it
// reads is on another host: it needs only NATS, the learner's gRPC address from the registry, and /proc.
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { ActorRegistry, actorHandle, pipelineConsumer } from "@lspo/actors";
import { STREAMS, ensureConsumer, jetstream, jetstreamManager, publishMessage, subjectFor, type NatsConnection } from "@lspo/bus";
import type { RunConfig } from "@lspo/config";
import { PromptSource } from "@lspo/controller";
import { LearnerServiceService, type PromptRequest } from "@lspo/proto";
import { cpuSecondsOf } from "./serve.js";
import { serveRun } from "./sim-control.js";

export const BACKLOG = 2000; // groups waiting for the verifier before the feeder pauses

export interface LevelSpec {
  run: string;
  config: RunConfig;
  /** The simulated actors that serve this level (already started; see sim-control.ts). */
  sims: string[];
  /** Process ids whose CPU is reported: each service, the NATS servers, and the simulated actors. */
  pids: { verifier: number; sampler: number; learner: number; natsServers: number[]; sims: number[] };
  tokensPerSecond: number;
  minTokens: number;
  maxTokens: number;
  warmS: number;
  windowS: number;
}

export interface LevelResult {
  actors: number;
  seconds: number;
  offeredGroupsPerS: number;
  publishedGroupsPerS: number;
  verifiedGroupsPerS: number;
  judgedGroupsPerS: number;
  trainedGroupsPerS: number;
  updatesPerS: number;
  /** CPU seconds per second of each process (1 = one core). */
  cpu: Record<string, number>;
  /** Busy share of the machine's cores over the window (every host of a cluster shares them). */
  machineBusy: number;
  verifierBacklog: number;
  loadAverage: number[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

export async function measureLevel(nc: NatsConnection, spec: LevelSpec): Promise<LevelResult> {
  const { run, config } = spec;
  const P = config.rollout.promptsPerCall;
  const G = config.rollout.groupSize;
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  // The actors' shared prompt consumer, declared as a rollout actor declares it (libs/actors pipelineConsumer).
  const promptConsumer = pipelineConsumer("rollout", config);
  await ensureConsumer(jsm, promptConsumer.stream, promptConsumer.durable, { filterSubject: promptConsumer.subject, ...promptConsumer.opts });
  // The registry is run-scoped: each level's services register under its own run name.
  const registry = await ActorRegistry.open(nc, { runId: run, replicas: config.nats.replicas });
  const learner = actorHandle(registry, LearnerServiceService, `learner-${run}`);
  const source = await PromptSource.create(config);
  // The feeder: prompts as the controller makes them, kept queued ahead of the actors.
  let feeding = true;
  const feeder = (async () => {
    while (feeding) {
      const [prompts, rollouts] = await Promise.all([jsm.consumers.info(STREAMS.prompts.name, `rollout-${run}`), jsm.consumers.info(STREAMS.rollouts.name, `verifier-${run}`)]);
      const want = Math.max(64, 4 * spec.sims.length * P) - prompts.num_pending;
      if (want > 0 && rollouts.num_pending < BACKLOG) {
        await Promise.all(
          Array.from({ length: want }, () => {
            const item = source.next();
            const req: PromptRequest = {
              uid: item.uid, runId: run, task: "synthetic", promptText: item.text, promptIds: Buffer.alloc(0), answer: item.answer,
              groupSize: G, cursor: BigInt(item.cursor), requestedAt: new Date(),
            };
            return publishMessage(js, subjectFor("prompts", run), "PromptRequest", req, { msgId: `prompt-${item.uid}` });
          }),
        );
      }
      await sleep(100);
    }
  })();

  /** Cumulative counts at each stage's output, and CPU seconds per process. */
  async function snapshot() {
    const [published, verified, status] = await Promise.all([
      jsm.consumers.info(STREAMS.rollouts.name, `verifier-${run}`),
      jsm.consumers.info(STREAMS.verified.name, `sampler-${run}`),
      learner.call.status({}),
    ]);
    const counters = status.status!.counters as { trainedGroups: number; step: number };
    const stat = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const p = spec.pids;
    return {
      t: performance.now(),
      // A stage's output is what the next stage's consumer has been given plus what waits for it (the
      // consumers filter this level's subjects; nothing is redelivered in these runs).
      published: published.delivered.consumer_seq + published.num_pending,
      verified: verified.delivered.consumer_seq + verified.num_pending,
      judged: verified.ack_floor.consumer_seq,
      trained: counters.trainedGroups,
      steps: counters.step,
      cpu: {
        verifier: cpuSecondsOf(p.verifier), sampler: cpuSecondsOf(p.sampler), learner: cpuSecondsOf(p.learner),
        natsServer: sum(p.natsServers.map(cpuSecondsOf)), sims: sum(p.sims.map(cpuSecondsOf)),
        bench: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
      },
      // Machine-wide busy and total jiffies (user+nice+system+irq+softirq+steal, and all), for the cores' load.
      machineBusy: stat[0] + stat[1] + stat[2] + stat[5] + stat[6] + stat[7],
      machineTotal: sum(stat),
    };
  }

  try {
    await serveRun(nc, spec.sims, run);
    await sleep(spec.warmS * 1000);
    const a = await snapshot();
    await sleep(spec.windowS * 1000);
    const b = await snapshot();
    const backlog = (await jsm.consumers.info(STREAMS.rollouts.name, `verifier-${run}`)).num_pending;
    const s = (b.t - a.t) / 1000;
    const rate = (k: "published" | "verified" | "judged" | "trained") => (b[k] - a[k]) / s;
    const cpu = Object.fromEntries(Object.keys(a.cpu).map((k) => [k, (b.cpu[k as keyof typeof a.cpu] - a.cpu[k as keyof typeof a.cpu]) / s]));
    const n = spec.sims.length;
    return {
      actors: n,
      seconds: s,
      offeredGroupsPerS: (n * spec.tokensPerSecond) / (G * ((spec.minTokens + spec.maxTokens) / 2)),
      publishedGroupsPerS: rate("published"),
      verifiedGroupsPerS: rate("verified"),
      judgedGroupsPerS: rate("judged"),
      trainedGroupsPerS: rate("trained"),
      updatesPerS: (b.steps - a.steps) / s,
      cpu,
      machineBusy: (b.machineBusy - a.machineBusy) / (b.machineTotal - a.machineTotal),
      verifierBacklog: backlog,
      loadAverage: loadavg(),
    };
  } finally {
    feeding = false;
    await feeder;
    learner.close();
    registry.close();
  }
}

/** What a level left in the streams is nobody's work any more: purged once its services are stopped. */
export async function purgeLevel(nc: NatsConnection, run: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const [stream, kind] of [[STREAMS.prompts.name, "prompts"], [STREAMS.rollouts.name, "rollouts"], [STREAMS.verified.name, "verified"]] as const) {
    await jsm.streams.purge(stream, { filter: subjectFor(kind, run) });
  }
}

export function describeLevel(l: LevelResult): string {
  return (
    `${String(l.actors).padStart(2)} actors: offered ${l.offeredGroupsPerS.toFixed(0)}, published ${l.publishedGroupsPerS.toFixed(1)}, verified ${l.verifiedGroupsPerS.toFixed(1)}, ` +
    `judged ${l.judgedGroupsPerS.toFixed(1)}, trained ${l.trainedGroupsPerS.toFixed(1)} groups/s (${l.updatesPerS.toFixed(2)} updates/s); ` +
    `backlog ${l.verifierBacklog}; machine ${(100 * l.machineBusy).toFixed(0)}% busy; cpu ${Object.entries(l.cpu).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")}`
  );
}
