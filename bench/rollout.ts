// `npm run bench -- rollout` (issue 9, item 1): rollout actor overhead. Decode tokens/s through the full
// service path against a bare loop over the same ORT session, on the demo model and batch.
//   service: this process publishes PromptRequests on LSPO_PROMPTS; a real rollout actor process
//            (`lspo serve rollout`, started as the node agent starts it, one ORT thread) pulls them
//            `rollout.promptsPerCall` at a time, generates G responses each, publishes RolloutGroups on
//            LSPO_ROLLOUTS; this process consumes them. Timed from the first publish to the last group in.
//   bare:    OnnxDecoder.create + generate() from @lspo/model looped in a process of its own
//            (bench/lib/bare-decoder.ts), same session options (one thread), the same prompts tokenized
//            beforehand, the same batches (promptsPerCall x G rows) and the same sampling seeds the actor
//            derives (groupStreams: each group on streams of its uid's seed). A process of its own, not this
//            one, so that two like processes are compared: run in the bench process (which also consumes the rollouts), the
//            loop used 1.3-1.9x the CPU per token of a fresh process in this bench's first runs.
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
import { fmt, judgeGoal, machine, secondsSince, summarize } from "./lib/stats.js";
import { startProvenance } from "@lspo/telemetry";
// Recorded from the start: a tree that changes while the benchmark runs makes the result "uncommitted".
const provenance = startProvenance({ ignore: /^bench\/results\// });

const ROUNDS = 3; // each round: a fresh actor and a fresh bare process
const RUNS_PER_ROUND = 5; // paired runs per round
const CALLS_PER_TRIAL = 16; // generate() calls per trial and path: CALLS x promptsPerCall prompts
const THREADS = 1; // what the node agent gives a demo rollout actor (one CPU each)
const root = resolve(import.meta.dirname, "..");
const runDir = mkdtempSync(join(tmpdir(), "lspo-bench-rollout-"));

const server = await startNatsServer({ storeDir: join(runDir, "nats"), maxPayload: 8 * 1024 * 1024 });
const configFor = (round: number) =>
  loadConfigFile(join(root, "configs/demo.yaml"), [
    `run.name=bench-rollout-${round}`, `run.dir=${runDir}`, `nats.url=${server.url}`, "rollout.actors=1", `model.dir=${join(root, "configs/models/demo-base")}`,
  ]);
const config = configFor(0);
const { promptsPerCall: P, groupSize: G, maxNewTokens, temperature, topP, topK } = config.rollout;
const nc = await connectBus({ url: server.url, name: "bench-rollout" });
const jsm = await jetstreamManager(nc);
await ensureStreams(jsm);
const js = jetstream(nc);
const source = await PromptSource.create(config);

type BareReply = { ready?: true; error?: string; seconds: number; cpuSeconds: number; tokens: number; byUid: Array<[string, string]> };

/**
 * One round's pair of generating processes. The rounds exist because on this shared machine one process
 * can run ~1.5x slower per token than another for tens of seconds (seen on either side, in runs of this
 * bench); fresh processes each round keep one unlucky process from deciding the figure.
 */
async function startRound(round: number) {
  const cfg = configFor(round);
  // The actor, started as the node agent starts it; no weights are published, so it samples from the base policy.
  const actor = startService("rollout", cfg, { name: `rollout-${round}`, logDir: runDir, threads: THREADS });
  // The bare side: the same model directory, tokenizer and session options as services/rollout's Policy.
  const bare = fork(
    join(import.meta.dirname, "lib", "bare-decoder.ts"),
    [cfg.model.dir, cfg.model.device, THREADS, P, G, maxNewTokens, temperature, topP, topK, cfg.run.seed].map(String),
    { stdio: ["ignore", "inherit", "inherit", "ipc"] },
  );
  process.once("exit", () => bare.kill("SIGKILL"));
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
  await Promise.all([actor.ready, bareReply()]);
  // The registry is run-scoped: each round's actor registers under its own run name.
  const registry = await ActorRegistry.open(nc, { runId: cfg.run.name });
  const handle = actorHandle(registry, RolloutServiceService, `rollout`);
  const durable = `bench-rollout-${round}`;
  await ensureConsumer(jsm, STREAMS.rollouts.name, durable, { filterSubject: subjectFor("rollouts", cfg.run.name), ackWaitMs: 120_000 });
  const sub = await consume<RolloutGroup>(js, { stream: STREAMS.rollouts.name, durable, kind: "RolloutGroup" });
  return {
    cfg,
    actor,
    groupsIn: sub[Symbol.asyncIterator](),
    counters: async () => (await handle.call.status({})).status!.counters as { generateSeconds: number; syncSeconds: number; tokens: number; groups: number },
    bareRun: async (items: PromptItem[]) => {
      const reply = bareReply();
      bare.send({ items: items.map((i) => ({ uid: i.uid, text: i.text })) });
      return reply;
    },
    async stop() {
      await sub.stop();
      handle.close();
      bare.send("exit");
      await actor.stop();
    },
  };
}
type Round = Awaited<ReturnType<typeof startRound>>;

const tokensOf = (g: RolloutGroup) => g.responses.reduce((n, r) => n + r.tokenIds.byteLength / 4, 0);

interface Trial {
  seconds: number;
  tokens: number;
  /** Per prompt uid: the G responses' tokens joined, to compare the two paths. */
  byUid: Map<string, string>;
  /** CPU seconds of the process that generated (the actor for service, the bare-decoder process for bare). */
  cpuSeconds: number;
  /** service only: the actor's own generateSeconds and syncSeconds (weights check) counters over the trial. */
  generateSeconds?: number;
  syncSeconds?: number;
}

async function serviceTrial(round: Round, items: PromptItem[]): Promise<Trial> {
  const { cfg, actor, groupsIn } = round;
  const before = await round.counters();
  const cpu0 = actor.cpuSeconds();
  const t0 = process.hrtime.bigint();
  // Published in order on one connection, so the stream holds them in this order and the actor takes them
  // promptsPerCall at a time, as the bare loop does.
  await Promise.all(
    items.map((item) => {
      const req: PromptRequest = {
        uid: item.uid, runId: cfg.run.name, task: cfg.task.kind, promptText: item.text, promptIds: Buffer.alloc(0), answer: item.answer,
        groupSize: G, cursor: BigInt(item.cursor), requestedAt: new Date(),
      };
      return publishMessage(js, subjectFor("prompts", cfg.run.name), "PromptRequest", req, { msgId: `prompt-${item.uid}` });
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
    if (!want.has(g.uid)) throw new Error(`unexpected group ${g.uid} on ${subjectFor("rollouts", cfg.run.name)}`);
    byUid.set(g.uid, g.responses.map((x) => Array.from(int32Of(x.tokenIds)).join(",")).join("|"));
    tokens += tokensOf(g);
  }
  const seconds = secondsSince(t0);
  const cpuSeconds = actor.cpuSeconds() - cpu0;
  const after = await round.counters();
  return { seconds, tokens, byUid, cpuSeconds, generateSeconds: after.generateSeconds - before.generateSeconds, syncSeconds: after.syncSeconds - before.syncSeconds };
}

async function bareTrial(round: Round, items: PromptItem[]): Promise<Trial> {
  const r = await round.bareRun(items);
  return { seconds: r.seconds, tokens: r.tokens, byUid: new Map(r.byUid), cpuSeconds: r.cpuSeconds };
}

const started = process.hrtime.bigint();
const loadBefore = loadavg();
const nextItems = () => Array.from({ length: CALLS_PER_TRIAL * P }, () => source.next());
const runs: Array<{ round: number; service: Trial; bare: Trial; identicalGroups: number }> = [];
for (let k = 0; k < ROUNDS; k++) {
  const round = await startRound(k);
  // Warm-up, untimed: each process's first generations.
  const warm = nextItems();
  await serviceTrial(round, warm);
  await bareTrial(round, warm);
  for (let r = 0; r < RUNS_PER_ROUND; r++) {
    const items = nextItems();
    const serviceFirst = (k * RUNS_PER_ROUND + r) % 2 === 1;
    const service = serviceFirst ? await serviceTrial(round, items) : null;
    const bare = await bareTrial(round, items);
    const s = service ?? (await serviceTrial(round, items));
    const identicalGroups = items.filter((i) => s.byUid.get(i.uid) === bare.byUid.get(i.uid)).length;
    runs.push({ round: k, service: s, bare, identicalGroups });
    console.log(
      `round ${k + 1} run ${r + 1}: service ${(s.tokens / s.seconds).toFixed(0)} tok/s, bare ${(bare.tokens / bare.seconds).toFixed(0)} tok/s, ` +
        `ratio ${(s.tokens / s.seconds / (bare.tokens / bare.seconds)).toFixed(3)}, identical groups ${identicalGroups}/${items.length}`,
    );
  }
  await round.stop();
}
const totalSeconds = secondsSince(started);
await nc.close();
await server.stop();

const rate = (t: Trial) => t.tokens / t.seconds;
const ratio = summarize(runs.map((x) => rate(x.service) / rate(x.bare)));
const result = {
  provenance: provenance.finish(),
  command: "npm run bench -- rollout",
  date: new Date().toISOString(),
  machine: machine(),
  goal: "service tokens/s / bare tokens/s >= 0.9",
  goalVerdict: judgeGoal(ratio, 0.9),
  setup: {
    config: "configs/demo.yaml (demo-base policy), rollout.actors=1",
    rounds: ROUNDS,
    runsPerRound: RUNS_PER_ROUND,
    rounds_note: "each round starts a fresh rollout actor and a fresh bare process; runs alternate which path goes first",
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
  /** Shares of the service trial's wall time: the actor generating (tokenize, generate, build groups), and checking for new weights. The rest is taking prompts, publishing groups, and the first prompt's and last group's trip. */
  serviceGenerateShare: summarize(runs.map((x) => x.service.generateSeconds! / x.service.seconds)),
  serviceSyncShare: summarize(runs.map((x) => x.service.syncSeconds! / x.service.seconds)),
  tokensPerTrial: summarize(runs.map((x) => x.service.tokens)),
  identicalGroups: runs.map((x) => x.identicalGroups),
  runs: runs.map((x) => ({
    round: x.round,
    service: { seconds: x.service.seconds, tokens: x.service.tokens, cpuSeconds: x.service.cpuSeconds, generateSeconds: x.service.generateSeconds, syncSeconds: x.service.syncSeconds },
    bare: { seconds: x.bare.seconds, tokens: x.bare.tokens, cpuSeconds: x.bare.cpuSeconds },
    identicalGroups: x.identicalGroups,
  })),
};
writeFileSync(join(import.meta.dirname, "results", "rollout.json"), `${JSON.stringify(result, null, 2)}\n`);
console.log(`service/bare tokens/s ${fmt(ratio, 3)} (goal >= 0.9: ${result.goalVerdict})`);
console.log(`service ${fmt(result.serviceTokensPerS, 0)} tok/s, bare ${fmt(result.bareTokensPerS, 0)} tok/s; per CPU-s service ${fmt(result.serviceTokensPerCpuS, 0)}, bare ${fmt(result.bareTokensPerCpuS, 0)}`);
console.log(`actor generating ${fmt(result.serviceGenerateShare, 3)}, checking weights ${fmt(result.serviceSyncShare, 3)} of the service trial; total ${totalSeconds.toFixed(0)} s, load ${loadBefore.map((x) => x.toFixed(1)).join(" ")} -> ${result.loadAverage.after.map((x) => x.toFixed(1)).join(" ")}`);
process.exit(0);
