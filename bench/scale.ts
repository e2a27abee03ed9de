// `npm run bench -- scale [--rollout-hosts 2,4] [--levels 1,2,...]`: how groups/s through verifier ->
// sampler -> learner grow with the number of rollout actors, and where they saturate; first on this
// machine's own network, then across hosts (bench/lib/scale-cluster.ts: the namespace cluster of
// test/cluster, with 2 and 4 rollout hosts by default; it needs root and `ip netns`, and says why when it
// cannot run). The actors are simulated (bench/lib/sim-rollout.ts: real processes on the real protocol,
// fake tokens at TOKENS_PER_SECOND each); the verifier, LSPO sampler and learner are the real services
// (`lspo serve <kind>`). The learner trains a tiny model (configs/smoke.yaml's: 1 layer, hidden 32) so that
// its arithmetic does not hide the actor system's own costs. Each level is a run of its own (fresh
// verifier, sampler and learner processes, its own subjects; the simulated actors are kept and pointed at
// it, new ones added); bench/lib/scale-level.ts measures it. Writes bench/results/scale.json.
import { fork, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadavg, tmpdir } from "node:os";
import { parseArgs } from "node:util";
import { connectBus, ensureStreams, jetstreamManager, startNatsServer } from "@lspo/bus";
import { resolveConfig, type RunConfig } from "@lspo/config";
import { createModelFromSpec } from "@lspo/model";
import { verifyResponse, writeModelDir } from "@lspo/tasks";
import { startProvenance } from "@lspo/telemetry";
import { clusterPreflight } from "../test/cluster/support/preflight.js";
import { measureAcrossHosts, type AcrossHostsResult } from "./lib/scale-cluster.js";
import { describeLevel, measureLevel, purgeLevel, BACKLOG, type LevelResult } from "./lib/scale-level.js";
import { exited, startService, type Service } from "./lib/serve.js";
import { SIM_READY } from "./lib/sim-control.js";
import { simulatedText } from "./lib/sim-text.js";
import { machine, secondsSince } from "./lib/stats.js";
// Recorded from the start: a tree that changes while the benchmark runs makes the result "uncommitted".
const provenance = startProvenance({ ignore: /^bench\/results\// });

const USAGE = "usage: npm run bench -- scale [--rollout-hosts 2,4 (0: this machine only)] [--levels 1,2,4,8,16,32,64]";
const list = (s: string, what: string) => {
  const xs = s === "0" || s === "" ? [] : s.split(",").map(Number);
  if (xs.some((x) => !Number.isInteger(x) || x < 1)) throw new Error(`bench scale: --${what} takes positive integers separated by commas (or 0 for none), got '${s}'\n${USAGE}`);
  return xs;
};
const { values: flags } = parseArgs({ options: { "rollout-hosts": { type: "string", default: "2,4" }, levels: { type: "string", default: "1,2,4,8,16,32,64" } }, strict: true });
const LEVELS = list(flags.levels!, "levels");
const ROLLOUT_HOSTS = list(flags["rollout-hosts"]!, "rollout-hosts");
if (LEVELS.length === 0) throw new Error(`bench scale: --levels needs at least one level\n${USAGE}`);

const WARM_S = 4;
const WINDOW_S = 10;
/** Per simulated actor. Default: about what one demo rollout actor generates here (bench/rollout.ts). */
const TOKENS_PER_SECOND = Number(process.env.LSPO_BENCH_SIM_RATE ?? 4000);
const MIN_TOKENS = 16;
const MAX_TOKENS = 64;
const RUN = "bench-scale";
const started = process.hrtime.bigint();
const loadBefore = loadavg();

// The simulated text must score as intended with the real verifier, or the sampler sees other groups.
for (const [answer, correct] of [["12", true], ["12", false], ["-3", true], ["-3", false]] as const) {
  const v = verifyResponse(simulatedText(answer, correct), answer, { reward: "zero-one" });
  if (v.correct !== correct) throw new Error(`simulatedText(${answer}, ${correct}) is scored ${v.correct} by the verifier`);
}

const dir = mkdtempSync(join(tmpdir(), "lspo-bench-scale-"));
const model = createModelFromSpec({
  seed: 0,
  model: { model_type: "llama", hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 256, tie_word_embeddings: true },
});
const configFor = (run: string, natsUrl: string, modelDir: string, replicas: number, runDir: string): RunConfig =>
  resolveConfig({
    // Staleness is not what this measures: with a bound of 1 the backlog at saturation would all go stale.
    run: { name: run, dir: runDir, steps: 1_000_000, maxOffPolicySteps: 1_000_000 },
    nats: { url: natsUrl, replicas },
    model: { dir: modelDir },
    task: { kind: "synthetic", synthetic: { seed: 0, difficulty: [1, 3] }, poolSize: 4096 },
    rollout: { actors: Math.max(...LEVELS), groupSize: 8, promptsPerCall: 8, maxNewTokens: MAX_TOKENS },
    // The demo's sampler and learner settings.
    sampler: { mode: "stream", batchSize: 16, window: 128, lLow: 0.3, lHigh: 0.65, lMax: 0.95 },
    learner: { algorithm: { name: "dapo" }, lr: 2e-4, checkpointEvery: 10 },
  });
const sim = { tokensPerSecond: TOKENS_PER_SECOND, promptsPerCall: 8, minTokens: MIN_TOKENS, maxTokens: MAX_TOKENS };

/** This machine's own network: an embedded nats-server, services and actors as child processes. */
async function measureLocally(): Promise<LevelResult[]> {
  const modelDir = join(dir, "model");
  writeModelDir(modelDir, model);
  const server = await startNatsServer({ storeDir: join(dir, "nats"), maxPayload: 8 * 1024 * 1024 });
  const nc = await connectBus({ url: server.url, name: "bench-scale" });
  await ensureStreams(await jetstreamManager(nc));
  const sims: ChildProcess[] = [];
  process.once("exit", () => sims.forEach((c) => c.kill("SIGKILL")));
  const addSims = async (n: number) => {
    const ready: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const name = `sim-${sims.length}`;
      const child = fork(join(import.meta.dirname, "lib", "sim-rollout.ts"), [
        JSON.stringify({ natsUrl: server.url, name, ...sim, vocabSize: model.config.vocabSize, seed: sims.length + 1 }),
      ], { stdio: ["ignore", "pipe", "inherit", "ipc"] });
      sims.push(child);
      ready.push(
        new Promise<void>((res, rej) => {
          child.once("exit", (code) => rej(new Error(`${name} exited (${code}) before it was ready`)));
          child.stdout!.on("data", (d: Buffer) => d.toString().includes(SIM_READY) && res());
        }),
      );
    }
    await Promise.all(ready);
  };
  const levels: LevelResult[] = [];
  for (const n of LEVELS) {
    const run = `${RUN}-${n}`;
    const config = configFor(run, server.url, modelDir, 1, join(dir, run));
    mkdirSync(config.run.dir, { recursive: true });
    const services: Service[] = (["learner", "sampler", "verifier"] as const).map((kind) => startService(kind, config, { name: `${kind}-${run}`, logDir: dir }));
    await Promise.all([...services.map((x) => x.ready), addSims(n - sims.length)]);
    const [learner, sampler, verifier] = services.map((s) => s.child.pid!);
    const level = await measureLevel(nc, {
      run, config, sims: Array.from({ length: n }, (_, i) => `sim-${i}`),
      pids: { verifier, sampler, learner, natsServers: [server.pid], sims: sims.slice(0, n).map((c) => c.pid!) },
      tokensPerSecond: TOKENS_PER_SECOND, minTokens: MIN_TOKENS, maxTokens: MAX_TOKENS, warmS: WARM_S, windowS: WINDOW_S,
    });
    for (const x of services) await x.stop();
    await purgeLevel(nc, run);
    levels.push(level);
    console.log(describeLevel(level));
  }
  for (const c of sims) c.kill("SIGTERM");
  await Promise.all(sims.map((c) => exited(c)));
  await nc.close();
  await server.stop();
  return levels;
}

const levels = await measureLocally();
const acrossHosts: AcrossHostsResult[] = [];
let acrossHostsSkipped: string | null = null;
if (ROLLOUT_HOSTS.length) {
  const pre = clusterPreflight();
  if (!pre.ok) {
    acrossHostsSkipped = pre.reason;
    console.error(`bench scale: not measured across hosts: ${pre.reason}`);
  } else {
    for (const rolloutHosts of ROLLOUT_HOSTS) {
      acrossHosts.push(
        await measureAcrossHosts({
          rolloutHosts, levels: LEVELS, model, sim, warmS: WARM_S, windowS: WINDOW_S,
          // Every stream and bucket R3 on the three NATS hosts, as a deployment would have them.
          configFor: (run, natsUrl, modelDir) => configFor(run, natsUrl, modelDir, 3, join(modelDir, "..", run)),
        }),
      );
    }
  }
}
const totalSeconds = secondsSince(started);

const peak = (ls: LevelResult[]) => ls.reduce((m, l) => (l.trainedGroupsPerS > m.trainedGroupsPerS ? l : m));
const best = peak(levels);
const result = {
  provenance: provenance.finish(),
  command: ["npm run bench -- scale", ...process.argv.slice(2)].join(" "),
  date: new Date().toISOString(),
  machine: machine(),
  goal: "none set by the issue: how groups/s grow from 1 to 64 actors and where they saturate, on one host and across 2 and 4 rollout hosts",
  setup: {
    actors: `simulated (bench/lib/sim-rollout.ts), ${TOKENS_PER_SECOND} tokens/s each, ${sim.promptsPerCall} prompts per call, G = 8, ${MIN_TOKENS}-${MAX_TOKENS} tokens per response (uniform), each response correct with p = 1/2`,
    services: "one verifier, one LSPO sampler (stream, B = 16, W = 128, the demo's thresholds), one learner (DAPO, tiny model: 1 layer, hidden 32, checkpoint every 10 steps), each `lspo serve <kind>`, started fresh for each level under its own run name",
    local: "this machine's own network: an embedded nats-server (streams R1), every process a child of the bench",
    acrossHosts: "test/cluster's namespace hosts on this machine: 3 nats-server hosts (JetStream cluster, streams and buckets R3), the services on one host, the simulated actors spread over the rollout hosts, the bench's controller side on its own host; every host shares this machine's cores",
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
  acrossHosts: acrossHosts.map((h) => ({ ...h, peakTrained: { actors: peak(h.levels).actors, trainedGroupsPerS: peak(h.levels).trainedGroupsPerS } })),
  acrossHostsSkipped,
};
writeFileSync(join(import.meta.dirname, "results", "scale.json"), `${JSON.stringify(result, null, 2)}\n`);
console.log(`peak trained ${best.trainedGroupsPerS.toFixed(1)} groups/s at ${best.actors} actors on this machine's network` +
  acrossHosts.map((h) => `; ${peak(h.levels).trainedGroupsPerS.toFixed(1)} at ${peak(h.levels).actors} across ${h.rolloutHosts} rollout hosts`).join("") + `; total ${totalSeconds.toFixed(0)} s`);
process.exit(0);
