// `npm run bench -- scale` (issue 9, item 6, first half): how groups/s through verifier -> sampler -> learner
// grow with the number of rollout actors, and where they saturate. The actors are simulated
// (bench/lib/sim-rollout.ts: real processes on the real protocol, fake tokens at TOKENS_PER_SECOND each);
// the verifier, LSPO sampler and learner are the real services (`lspo serve <kind>`), on an embedded NATS.
// The learner trains a tiny model (configs/smoke.yaml's: 1 layer, hidden 32) so that its arithmetic does
// not hide the actor system's own costs. This process plays the controller: it keeps prompts queued for
// the actors (pausing while more than BACKLOG groups wait for the verifier) and reads each stage's output.
// Levels 1, 2, 4, ... 64 actors. Each level is a run of its own (fresh verifier, sampler and learner
// processes, its own subjects; the simulated actors are kept and pointed at it, new ones added): after a
// warm-up, a window in which it counts groups published by the actors, verified, judged by the sampler,
// and trained by the learner, and the CPU each process used. Writes bench/results/scale.json.
import { fork, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadavg, tmpdir } from "node:os";
import { ActorRegistry, actorHandle } from "@lspo/actors";
import { STREAMS, connectBus, ensureConsumer, ensureStreams, jetstream, jetstreamManager, publishMessage, startNatsServer, subjectFor } from "@lspo/bus";
import { resolveConfig } from "@lspo/config";
import { PromptSource } from "@lspo/controller";
import { createModelFromSpec } from "@lspo/model";
import { LearnerServiceService, type PromptRequest } from "@lspo/proto";
import { verifyResponse, writeModelDir } from "@lspo/tasks";
import { simulatedText } from "./lib/sim-text.js";
import { cpuSecondsOf, exited, startService, type Service } from "./lib/serve.js";
import { machine, secondsSince } from "./lib/stats.js";
import { startProvenance } from "@lspo/telemetry";
// Recorded from the start: a tree that changes while the benchmark runs makes the result "uncommitted".
const provenance = startProvenance({ ignore: /^bench\/results\// });

const LEVELS = [1, 2, 4, 8, 16, 32, 64];
const WARM_S = 4;
const WINDOW_S = 10;
/** Per simulated actor. Default: about what one demo rollout actor generates here (bench/rollout.ts). */
const TOKENS_PER_SECOND = Number(process.env.LSPO_BENCH_SIM_RATE ?? 4000);
const MIN_TOKENS = 16;
const MAX_TOKENS = 64;
const BACKLOG = 2000; // groups waiting for the verifier before the feeder pauses
const RUN = "bench-scale";
const started = process.hrtime.bigint();
const loadBefore = loadavg();

// The simulated text must score as intended with the real verifier, or the sampler sees other groups.
for (const [answer, correct] of [["12", true], ["12", false], ["-3", true], ["-3", false]] as const) {
  const v = verifyResponse(simulatedText(answer, correct), answer, { reward: "zero-one" });
  if (v.correct !== correct) throw new Error(`simulatedText(${answer}, ${correct}) is scored ${v.correct} by the verifier`);
}

const dir = mkdtempSync(join(tmpdir(), "lspo-bench-scale-"));
const modelDir = join(dir, "model");
const model = createModelFromSpec({
  seed: 0,
  model: { model_type: "llama", hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 256, tie_word_embeddings: true },
});
writeModelDir(modelDir, model);
const server = await startNatsServer({ storeDir: join(dir, "nats"), maxPayload: 8 * 1024 * 1024 });
const configFor = (run: string) =>
  resolveConfig({
    // Staleness is not what this measures: with a bound of 1 the backlog at saturation would all go stale.
    run: { name: run, dir: join(dir, run), steps: 1_000_000, maxOffPolicySteps: 1_000_000 },
    nats: { url: server.url },
    model: { dir: modelDir },
    task: { kind: "synthetic", synthetic: { seed: 0, difficulty: [1, 3] }, poolSize: 4096 },
    rollout: { actors: Math.max(...LEVELS), groupSize: 8, promptsPerCall: 8, maxNewTokens: MAX_TOKENS },
    // The demo's sampler and learner settings.
    sampler: { mode: "stream", batchSize: 16, window: 128, lLow: 0.3, lHigh: 0.65, lMax: 0.95 },
    learner: { algorithm: { name: "dapo" }, lr: 2e-4, checkpointEvery: 10 },
  });
const P = configFor("x").rollout.promptsPerCall;
const G = configFor("x").rollout.groupSize;
const nc = await connectBus({ url: server.url, name: "bench-scale" });
const jsm = await jetstreamManager(nc);
await ensureStreams(jsm);
const js = jetstream(nc);

/**
 * One level's run: fresh verifier, sampler and learner processes under a run name of its own, so no level
 * inherits another's state (the sampler's snapshot, for one, grows with every group the run has seen).
 */
async function startRun(run: string) {
  const config = configFor(run);
  mkdirSync(config.run.dir, { recursive: true });
  // The actors' shared prompt consumer, as services/rollout declares it for this many actors.
  await ensureConsumer(jsm, STREAMS.prompts.name, `rollout-${run}`, {
    filterSubject: subjectFor("prompts", run), ackWaitMs: config.rollout.ackWaitMs, maxAckPending: Math.max(P * config.rollout.actors * 2, 16),
  });
  const services: Service[] = (["learner", "sampler", "verifier"] as const).map((kind) => startService(kind, config, { name: `${kind}-${run}`, logDir: dir }));
  await Promise.all(services.map((x) => x.ready));
  const [learnerSvc, samplerSvc, verifierSvc] = services;
  // The registry is run-scoped: each level's actors register under its own run name.
  const registry = await ActorRegistry.open(nc, { runId: run });
  const learner = actorHandle(registry, LearnerServiceService, `learner-${run}`);
  const source = await PromptSource.create(config);
  // The feeder: prompts as the controller makes them, kept queued ahead of the actors.
  let feeding = true;
  const feeder = (async () => {
    while (feeding) {
      const [prompts, rollouts] = await Promise.all([jsm.consumers.info(STREAMS.prompts.name, `rollout-${run}`), jsm.consumers.info(STREAMS.rollouts.name, `verifier-${run}`)]);
      const want = Math.max(64, 4 * sims.length * P) - prompts.num_pending;
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
      await new Promise((r) => setTimeout(r, 100));
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
        verifier: verifierSvc.cpuSeconds(), sampler: samplerSvc.cpuSeconds(), learner: learnerSvc.cpuSeconds(), natsServer: cpuSecondsOf(server.pid),
        sims: sims.reduce((n, c) => n + cpuSecondsOf(c.pid!), 0), bench: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
      },
      // Machine-wide busy and total jiffies (user+nice+system+irq+softirq+steal, and all), for the cores' load.
      machineBusy: stat[0] + stat[1] + stat[2] + stat[5] + stat[6] + stat[7],
      machineTotal: stat.reduce((a, b) => a + b, 0),
    };
  }

  return {
    snapshot,
    backlog: async () => (await jsm.consumers.info(STREAMS.rollouts.name, `verifier-${run}`)).num_pending,
    async stop() {
      feeding = false;
      await feeder;
      learner.close();
      for (const x of services) await x.stop();
      // What this level left in the streams is nobody's work any more.
      for (const [stream, kind] of [[STREAMS.prompts.name, "prompts"], [STREAMS.rollouts.name, "rollouts"], [STREAMS.verified.name, "verified"]] as const) {
        await jsm.streams.purge(stream, { filter: subjectFor(kind, run) });
      }
    },
  };
}

const sims: ChildProcess[] = [];
process.once("exit", () => sims.forEach((c) => c.kill("SIGKILL")));
const once = (child: ChildProcess, what: string, name: string) =>
  new Promise<void>((res, rej) => {
    const onExit = (code: number | null) => rej(new Error(`${name} exited (${code}) before it was ${what}`));
    child.once("exit", onExit);
    child.once("message", (m) => {
      child.off("exit", onExit);
      if (m === what) res();
      else rej(new Error(`${name}: expected '${what}', got ${JSON.stringify(m)}`));
    });
  });
async function addSims(n: number): Promise<void> {
  const ready: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const name = `sim-${sims.length}`;
    const child = fork(join(import.meta.dirname, "lib", "sim-rollout.ts"), [
      JSON.stringify({ natsUrl: server.url, name, tokensPerSecond: TOKENS_PER_SECOND, promptsPerCall: P, minTokens: MIN_TOKENS, maxTokens: MAX_TOKENS, vocabSize: model.config.vocabSize, seed: sims.length + 1 }),
    ], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    sims.push(child);
    ready.push(once(child, "ready", name));
  }
  await Promise.all(ready);
}
/** Points every simulated actor at `run`. */
async function serveRun(run: string): Promise<void> {
  await Promise.all(
    sims.map((c, i) => {
      const serving = once(c, "serving", `sim-${i}`);
      c.send({ run });
      return serving;
    }),
  );
}

const levels = [];
for (const n of LEVELS) {
  const run = `${RUN}-${n}`;
  const [r] = await Promise.all([startRun(run), addSims(n - sims.length)]);
  await serveRun(run);
  await new Promise((res) => setTimeout(res, WARM_S * 1000));
  const a = await r.snapshot();
  await new Promise((res) => setTimeout(res, WINDOW_S * 1000));
  const b = await r.snapshot();
  const backlog = await r.backlog();
  await r.stop();
  const s = (b.t - a.t) / 1000;
  const rate = (k: "published" | "verified" | "judged" | "trained") => (b[k] - a[k]) / s;
  const cpu = Object.fromEntries(Object.keys(a.cpu).map((k) => [k, (b.cpu[k as keyof typeof a.cpu] - a.cpu[k as keyof typeof a.cpu]) / s]));
  const level = {
    actors: n,
    seconds: s,
    offeredGroupsPerS: (n * TOKENS_PER_SECOND) / (G * ((MIN_TOKENS + MAX_TOKENS) / 2)),
    publishedGroupsPerS: rate("published"),
    verifiedGroupsPerS: rate("verified"),
    judgedGroupsPerS: rate("judged"),
    trainedGroupsPerS: rate("trained"),
    updatesPerS: (b.steps - a.steps) / s,
    /** CPU seconds per second of each process (1 = one core). */
    cpu,
    machineBusy: (b.machineBusy - a.machineBusy) / (b.machineTotal - a.machineTotal),
    verifierBacklog: backlog,
    loadAverage: loadavg(),
  };
  levels.push(level);
  console.log(
    `${String(n).padStart(2)} actors: offered ${level.offeredGroupsPerS.toFixed(0)}, published ${level.publishedGroupsPerS.toFixed(1)}, verified ${level.verifiedGroupsPerS.toFixed(1)}, ` +
      `judged ${level.judgedGroupsPerS.toFixed(1)}, trained ${level.trainedGroupsPerS.toFixed(1)} groups/s (${level.updatesPerS.toFixed(2)} updates/s); ` +
      `backlog ${level.verifierBacklog}; machine ${(100 * level.machineBusy).toFixed(0)}% busy; cpu ${Object.entries(cpu).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")}`,
  );
}

for (const c of sims) c.kill("SIGTERM");
await Promise.all(sims.map((c) => exited(c)));
await nc.close();
await server.stop();
const totalSeconds = secondsSince(started);

const best = levels.reduce((m, l) => (l.trainedGroupsPerS > m.trainedGroupsPerS ? l : m));
const result = {
  provenance: provenance.finish(),
  command: "npm run bench -- scale",
  date: new Date().toISOString(),
  machine: machine(),
  goal: "none set by the issue: how groups/s grow from 1 to 64 actors and where they saturate",
  setup: {
    actors: `simulated (bench/lib/sim-rollout.ts), ${TOKENS_PER_SECOND} tokens/s each, ${P} prompts per call, G = ${G}, ${MIN_TOKENS}-${MAX_TOKENS} tokens per response (uniform), each response correct with p = 1/2`,
    services: "one verifier, one LSPO sampler (stream, B = 16, W = 128, the demo's thresholds), one learner (DAPO, tiny model: 1 layer, hidden 32, checkpoint every 10 steps), each `lspo serve <kind>`, started fresh for each level under its own run name; embedded nats-server",
    levels: LEVELS,
    warmSeconds: WARM_S,
    windowSeconds: WINDOW_S,
    backlogPause: BACKLOG,
    maxOffPolicySteps: "unbounded (1e6), so that a backlog at saturation is trained rather than dropped as stale",
    metric: "groups/s at each stage's output over the window: published (the level's LSPO_ROLLOUTS subject), verified (its LSPO_VERIFIED subject), judged (the sampler's ack floor), trained (the learner's trainedGroups)",
  },
  totalSeconds,
  loadAverage: { before: loadBefore, after: loadavg() },
  peakTrained: { actors: best.actors, trainedGroupsPerS: best.trainedGroupsPerS },
  levels,
};
writeFileSync(join(import.meta.dirname, "results", "scale.json"), `${JSON.stringify(result, null, 2)}\n`);
console.log(`peak trained ${best.trainedGroupsPerS.toFixed(1)} groups/s at ${best.actors} actors; total ${totalSeconds.toFixed(0)} s`);
process.exit(0);
