// `npm run bench -- rollout` (issue 9, item 1): rollout actor overhead. Decode tokens/s through the full
// service path against a bare loop over the same ORT session, on the demo model and batch.
//   service: this process publishes PromptRequests on LSPO_PROMPTS; a real rollout actor process
//            (`lspo serve rollout`, started as the node agent starts it, one ORT thread) pulls them
//            `rollout.promptsPerCall` at a time, generates G responses each, publishes RolloutGroups on
//            LSPO_ROLLOUTS; this process consumes them. Timed from the first publish to the last group in.
//   bare:    OnnxDecoder.create + generate() from @lspo/model looped in a process of its own
//            (bench/lib/bare-decoder.ts), same session options (one thread), the same prompts tokenized
//            beforehand, the same batches (promptsPerCall x G rows) and the same sampling seeds the actor
//            derives (seedFor over the batch's uids). A process of its own, not this one: run in the bench
//            process (which also consumes the rollouts) the same loop used ~1.5x the CPU per token it uses
//            in a fresh process, which would have flattered the service.
// Both paths run the same prompts in a run, in alternating order; the ratio pairs the two trials of one run.
// The bench also checks the two paths did the same work: the groups whose tokens match exactly.
// Writes bench/results/rollout.json.
import { fork } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  STREAMS, connectBus, consume, ensureConsumer, ensureStreams, int32Of, jetstream, jetstreamManager, publishMessage,
  startNatsServer, subjectFor,
} from "@lspo/bus";
import { ActorRegistry, actorHandle } from "@lspo/actors";
import { loadConfigFile } from "@lspo/config";
import { PromptSource, type PromptItem } from "@lspo/controller";
import { RolloutServiceService, type PromptRequest, type RolloutGroup } from "@lspo/proto";
import { startService } from "./lib/serve.js";
import { fmt, machine, secondsSince, summarize } from "./lib/stats.js";

const RUNS = 11;
const CALLS_PER_TRIAL = 16; // generate() calls per trial and path: CALLS x promptsPerCall prompts
const THREADS = 1; // what the node agent gives a demo rollout actor (one CPU each)
const root = resolve(import.meta.dirname, "..");
const runDir = mkdtempSync(join(tmpdir(), "lspo-bench-rollout-"));

const server = await startNatsServer({ storeDir: join(runDir, "nats"), maxPayload: 8 * 1024 * 1024 });
const config = loadConfigFile(join(root, "configs/demo.yaml"), [
  "run.name=bench-rollout", `run.dir=${runDir}`, `nats.url=${server.url}`, "rollout.actors=1", `model.dir=${join(root, "configs/models/demo-base")}`,
]);
const { promptsPerCall: P, groupSize: G, maxNewTokens, temperature, topP, topK } = config.rollout;
const nc = await connectBus({ url: server.url, name: "bench-rollout" });
const jsm = await jetstreamManager(nc);
await ensureStreams(jsm);
const js = jetstream(nc);

// The actor, started as the node agent starts it; no weights are published, so it samples from the base policy.
const actor = startService("rollout", config, { name: "rollout-0", logDir: runDir, threads: THREADS });
process.once("exit", () => actor.child.kill("SIGKILL"));
await actor.ready;
const registry = await ActorRegistry.open(nc);
const handle = actorHandle(registry, RolloutServiceService, "rollout");
const actorCounters = async () => (await handle.call.status({})).status!.counters as { generateSeconds: number; tokens: number; groups: number };

// The bare side: the same model directory, tokenizer and session options as services/rollout's Policy.
const bare = fork(
  join(import.meta.dirname, "lib", "bare-decoder.ts"),
  [config.model.dir, config.model.device, THREADS, P, G, maxNewTokens, temperature, topP, topK, config.run.seed].map(String),
  { stdio: ["ignore", "inherit", "inherit", "ipc"] },
);
process.once("exit", () => bare.kill("SIGKILL"));
type BareReply = { ready?: true; error?: string; seconds: number; cpuSeconds: number; tokens: number; byUid: Array<[string, string]> };
const bareReply = () =>
  new Promise<BareReply>((res, rej) => {
    const onExit = (code: number | null) => rej(new Error(`bare-decoder exited (${code})`));
    bare.once("exit", onExit);
    bare.once("message", (m: BareReply) => {
      bare.off("exit", onExit);
      if (m.error) rej(new Error(`bare-decoder: ${m.error}`));
      else res(m);
    });
  });
await bareReply();

const source = await PromptSource.create(config);
const rolloutSubject = subjectFor("rollouts", config.run.name);
await ensureConsumer(jsm, STREAMS.rollouts.name, "bench-rollout", { filterSubject: rolloutSubject, ackWaitMs: 120_000 });
const groupsIn = (await consume<RolloutGroup>(js, { stream: STREAMS.rollouts.name, durable: "bench-rollout", kind: "RolloutGroup" }))[Symbol.asyncIterator]();

const tokensOf = (g: RolloutGroup) => g.responses.reduce((n, r) => n + r.tokenIds.byteLength / 4, 0);

interface Trial {
  seconds: number;
  tokens: number;
  /** Per prompt uid: the G responses' tokens joined, to compare the two paths. */
  byUid: Map<string, string>;
  /** CPU seconds of the process that generated (the actor for service, the bare-decoder process for bare). */
  cpuSeconds: number;
  /** service only: the actor's own generateSeconds counter over the trial. */
  generateSeconds?: number;
}

async function serviceTrial(items: PromptItem[]): Promise<Trial> {
  const before = await actorCounters();
  const cpu0 = actor.cpuSeconds();
  const t0 = process.hrtime.bigint();
  // Published in order on one connection, so the stream holds them in this order and the actor takes them
  // promptsPerCall at a time, as the bare loop does.
  await Promise.all(
    items.map((item) => {
      const req: PromptRequest = {
        uid: item.uid, runId: config.run.name, task: config.task.kind, promptText: item.text, promptIds: Buffer.alloc(0), answer: item.answer,
        groupSize: G, cursor: BigInt(item.cursor), requestedAt: new Date(),
      };
      return publishMessage(js, subjectFor("prompts", config.run.name), "PromptRequest", req, { msgId: `prompt-${item.uid}` });
    }),
  );
  const want = new Set(items.map((i) => i.uid));
  const byUid = new Map<string, string>();
  let tokens = 0;
  while (byUid.size < want.size) {
    const r = await groupsIn.next();
    if (r.done) throw new Error("the rollouts subscription ended");
    const g = r.value.body;
    r.value.ack();
    if (!want.has(g.uid)) throw new Error(`unexpected group ${g.uid} on ${rolloutSubject}`);
    byUid.set(g.uid, g.responses.map((x) => Array.from(int32Of(x.tokenIds)).join(",")).join("|"));
    tokens += tokensOf(g);
  }
  const seconds = secondsSince(t0);
  const cpuSeconds = actor.cpuSeconds() - cpu0;
  const after = await actorCounters();
  return { seconds, tokens, byUid, cpuSeconds, generateSeconds: after.generateSeconds - before.generateSeconds };
}

async function bareTrial(items: PromptItem[]): Promise<Trial> {
  const reply = bareReply();
  bare.send({ items: items.map((i) => ({ uid: i.uid, text: i.text })) });
  const r = await reply;
  return { seconds: r.seconds, tokens: r.tokens, byUid: new Map(r.byUid), cpuSeconds: r.cpuSeconds };
}

const started = process.hrtime.bigint();
const loadBefore = loadavg();
const nextItems = () => Array.from({ length: CALLS_PER_TRIAL * P }, () => source.next());
// Warm-up, untimed: the actor's first generation and this process's first session run.
const warm = nextItems();
await serviceTrial(warm);
await bareTrial(warm);

const runs: Array<{ service: Trial; bare: Trial; identicalGroups: number }> = [];
for (let r = 0; r < RUNS; r++) {
  const items = nextItems();
  const [first, second] = r % 2 ? [serviceTrial, bareTrial] : [bareTrial, serviceTrial];
  const a = await first(items);
  const b = await second(items);
  const [service, bare] = r % 2 ? [a, b] : [b, a];
  const identicalGroups = items.filter((i) => service.byUid.get(i.uid) === bare.byUid.get(i.uid)).length;
  runs.push({ service, bare, identicalGroups });
  console.log(
    `run ${r + 1}: service ${(service.tokens / service.seconds).toFixed(0)} tok/s, bare ${(bare.tokens / bare.seconds).toFixed(0)} tok/s, ` +
      `ratio ${(service.tokens / service.seconds / (bare.tokens / bare.seconds)).toFixed(3)}, identical groups ${identicalGroups}/${items.length}`,
  );
}
const totalSeconds = secondsSince(started);
handle.close();
bare.send("exit");
await actor.stop();
await nc.close();
await server.stop();

const rate = (t: Trial) => t.tokens / t.seconds;
const ratio = summarize(runs.map((x) => rate(x.service) / rate(x.bare)));
const result = {
  command: "npm run bench -- rollout",
  date: new Date().toISOString(),
  machine: machine(),
  goal: "service tokens/s / bare tokens/s >= 0.9",
  goalMet: ratio.median >= 0.9,
  setup: {
    config: "configs/demo.yaml (demo-base policy), rollout.actors=1",
    runs: RUNS,
    promptsPerTrial: CALLS_PER_TRIAL * P,
    batch: `${P} prompts x G=${G} = ${P * G} rows per generate() call, maxNewTokens ${maxNewTokens}, temperature ${temperature}`,
    ortThreads: THREADS,
    metric: "tokens/s = generated tokens / wall seconds from the first prompt published to the last group received (service) or over the generate() calls (bare); ratio = service/bare of the same run",
  },
  totalSeconds,
  loadAverage: { before: loadBefore, after: loadavg() },
  ratio,
  serviceTokensPerS: summarize(runs.map((x) => rate(x.service))),
  bareTokensPerS: summarize(runs.map((x) => rate(x.bare))),
  serviceTokensPerCpuS: summarize(runs.map((x) => x.service.tokens / x.service.cpuSeconds)),
  bareTokensPerCpuS: summarize(runs.map((x) => x.bare.tokens / x.bare.cpuSeconds)),
  /** Share of the service trial's wall time the actor spent in its generation (weights sync + generate). */
  serviceGenerateShare: summarize(runs.map((x) => x.service.generateSeconds! / x.service.seconds)),
  tokensPerTrial: summarize(runs.map((x) => x.service.tokens)),
  identicalGroups: runs.map((x) => x.identicalGroups),
  runs: runs.map((x) => ({
    service: { seconds: x.service.seconds, tokens: x.service.tokens, cpuSeconds: x.service.cpuSeconds, generateSeconds: x.service.generateSeconds },
    bare: { seconds: x.bare.seconds, tokens: x.bare.tokens, cpuSeconds: x.bare.cpuSeconds },
    identicalGroups: x.identicalGroups,
  })),
};
writeFileSync(join(import.meta.dirname, "results", "rollout.json"), `${JSON.stringify(result, null, 2)}\n`);
console.log(`service/bare tokens/s ${fmt(ratio, 3)} (goal >= 0.9: ${result.goalMet ? "met" : "not met"})`);
console.log(`service ${fmt(result.serviceTokensPerS, 0)} tok/s, bare ${fmt(result.bareTokensPerS, 0)} tok/s; per CPU-s service ${fmt(result.serviceTokensPerCpuS, 0)}, bare ${fmt(result.bareTokensPerCpuS, 0)}`);
console.log(`actor generating ${fmt(result.serviceGenerateShare, 3)} of the service trial; total ${totalSeconds.toFixed(0)} s, load ${loadBefore.map((x) => x.toFixed(1)).join(" ")} -> ${result.loadAverage.after.map((x) => x.toFixed(1)).join(" ")}`);
process.exit(0);
