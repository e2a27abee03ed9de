// `npm run bench -- rollout-modes` (issue 22, rollout level): the rollout actor's two modes on the same prompts.
//   calls:      rollout.maxRows unset: the actor takes promptsPerCall prompts, generates their groups together
//               (P x G rows, finished rows dropped once half the batch has finished), publishes, takes the next.
//   continuous: rollout.maxRows = P x G: prompts join one batch as rows free up, across pulls, and each group
//               is published the moment its G samples end (services/rollout stream.ts).
// Each is a real `lspo serve rollout` process (one ORT thread, as the node agent starts a demo actor) on the
// demo model and config; this process publishes the prompts and consumes the groups. A trial is 128 prompts,
// timed from the first prompt published to the last group received. Per trial: tokens/s, the actor's row
// occupancy (its Status counters liveRows / decodeRows: rows of a sequence still generating among the rows its
// decode steps computed), and its generating share of the wall clock. Each group samples on its own uid's
// seed, so the two modes generate the same groups up to float rounding: the bench counts the identical ones.
// Then the same with weights updates: a new policy version published to each actor's run after every
// sampler.batchSize groups it returned (as if a learner trained a batch on each batchSize groups, at once), the
// versions alternating between the demo policy and a perturbed copy, so every update is a load. By calls, an
// update lands between calls; continuous, the open batch admits nothing more once the pointer moves and runs dry
// before the next one opens. The groups then differ between the modes (their versions do), so only rates compare,
// beside each group's lag: the newest version published when it arrived minus the version it was sampled by
// (how far behind the learner the actor samples, the off-policy cost of a mode).
// Rounds start fresh actors; runs inside a round alternate which mode goes first. Writes
// bench/results/rollout-modes.json.
import { mkdtempSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { STREAMS, connectBus, consume, ensureConsumer, ensureStreams, int32Of, jetstream, jetstreamManager, publishMessage, startNatsServer, subjectFor } from "@lspo/bus";
import { ActorRegistry, actorHandle } from "@lspo/actors";
import { loadConfigFile } from "@lspo/config";
import { PromptSource, type PromptItem } from "@lspo/controller";
import { WeightsPublisher } from "@lspo/learner";
import type { Weights } from "@lspo/model";
import { readModelDir } from "@lspo/tasks";
import { RolloutServiceService, type PromptRequest, type RolloutGroup } from "@lspo/proto";
import { startProvenance } from "@lspo/telemetry";
import { startService } from "./lib/serve.js";
import { fmt, machine, secondsSince, summarize } from "./lib/stats.js";
// Recorded from the start: a tree that changes while the benchmark runs makes the result "uncommitted".
const provenance = startProvenance({ ignore: /^bench\/results\// });

const ROUNDS = 2;
const RUNS_PER_ROUND = 4;
const PROMPTS_PER_TRIAL = 128;
const THREADS = 1;
const MODES = ["calls", "continuous"] as const;
type Mode = (typeof MODES)[number];
const root = resolve(import.meta.dirname, "..");
const runDir = mkdtempSync(join(tmpdir(), "lspo-bench-rollout-modes-"));

const server = await startNatsServer({ storeDir: join(runDir, "nats"), maxPayload: 8 * 1024 * 1024 });
const base = loadConfigFile(join(root, "configs/demo.yaml"), []);
const { promptsPerCall: P, groupSize: G } = base.rollout;
const configFor = (mode: Mode, round: number) =>
  loadConfigFile(join(root, "configs/demo.yaml"), [
    `run.name=bench-modes-${mode}-${round}`, `run.dir=${runDir}`, `nats.url=${server.url}`, "rollout.actors=1",
    `model.dir=${join(root, "configs/models/demo-base")}`, ...(mode === "continuous" ? [`rollout.maxRows=${P * G}`] : []),
  ]);
const nc = await connectBus({ url: server.url, name: "bench-rollout-modes" });
const jsm = await jetstreamManager(nc);
await ensureStreams(jsm);
const js = jetstream(nc);
const source = await PromptSource.create(base);
/** Groups returned between two weights updates in the updates condition. */
const UPDATE_EVERY = base.sampler.batchSize;
const demoWeights = readModelDir(join(root, "configs/models/demo-base")).weights;
/** The demo policy with seeded uniform noise (std about 0.01) on every number: other bytes, much the same lengths. */
function perturbed(w: Weights): Weights {
  let s = 7;
  return new Map([...w].map(([name, t]) => [name, {
    ...t, data: Float32Array.from(t.data as Float32Array, (x) => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0), x + ((s / 2 ** 32) - 0.5) * 0.035)),
  }]));
}
const policies = [perturbed(demoWeights), demoWeights];

interface Counters {
  generateSeconds: number;
  tokens: number;
  decodeRows: number;
  liveRows: number;
}

/** One mode's actor for a round, with its groups subscription. */
async function startActor(mode: Mode, round: number) {
  const cfg = configFor(mode, round);
  const actor = startService("rollout", cfg, { name: `rollout-${mode}-${round}`, logDir: runDir, threads: THREADS });
  await actor.ready;
  const handle = actorHandle(await ActorRegistry.open(nc, { runId: cfg.run.name }), RolloutServiceService, "rollout");
  const durable = `bench-modes-${mode}-${round}`;
  await ensureConsumer(jsm, STREAMS.rollouts.name, durable, { filterSubject: subjectFor("rollouts", cfg.run.name), ackWaitMs: 120_000 });
  const sub = await consume<RolloutGroup>(js, { stream: STREAMS.rollouts.name, durable, kind: "RolloutGroup" });
  const groupsIn = sub[Symbol.asyncIterator]();
  const publisher = await WeightsPublisher.open(nc, cfg.run.name);
  let version = 0;
  return {
    mode,
    counters: async () => (await handle.call.status({})).status!.counters as unknown as Counters,
    /**
     * Publishes `items` and waits for their groups: seconds, tokens, each group's responses by uid, and the
     * policy versions they carry. With `updates`, a new version goes out after every UPDATE_EVERY groups
     * returned (one at a time; the trial's time stops at its last group, and its last update is waited for).
     */
    async trial(items: PromptItem[], updates = false) {
      const before = await this.counters();
      const t0 = process.hrtime.bigint();
      await Promise.all(items.map((item) => {
        const req: PromptRequest = {
          uid: item.uid, runId: cfg.run.name, task: cfg.task.kind, promptText: item.text, promptIds: Buffer.alloc(0), answer: item.answer,
          groupSize: G, cursor: BigInt(item.cursor), requestedAt: new Date(),
        };
        return publishMessage(js, subjectFor("prompts", cfg.run.name), "PromptRequest", req, { msgId: `prompt-${cfg.run.name}-${item.uid}` });
      }));
      const byUid = new Map<string, string>();
      const versions = new Set<bigint>();
      let tokens = 0;
      let publishing: Promise<unknown> = Promise.resolve();
      // The newest version whose pointer is out (its publish resolved), and each group's lag behind it on arrival.
      let published = version;
      let lagSum = 0;
      while (byUid.size < items.length) {
        const r = await groupsIn.next();
        if (r.done) throw new Error(`${mode}: the rollouts subscription ended`);
        r.value.ack();
        const g = r.value.body;
        byUid.set(g.uid, g.responses.map((x) => Array.from(int32Of(x.tokenIds)).join(",")).join("|"));
        versions.add(g.policyVersion);
        lagSum += Math.max(0, published - Number(g.policyVersion));
        tokens += g.responses.reduce((n, x) => n + x.tokenIds.byteLength / 4, 0);
        if (updates && byUid.size % UPDATE_EVERY === 0 && byUid.size < items.length) {
          const v = ++version;
          publishing = publishing.then(() => publisher.publish(policies[v % 2], v, v)).then(() => void (published = v));
        }
      }
      const seconds = secondsSince(t0);
      await publishing;
      const after = await this.counters();
      return {
        seconds, tokens, byUid, versions: versions.size, meanLag: lagSum / byUid.size,
        occupancy: (after.liveRows - before.liveRows) / (after.decodeRows - before.decodeRows),
        generateShare: (after.generateSeconds - before.generateSeconds) / seconds,
      };
    },
    async stop() {
      await sub.stop();
      await actor.stop();
    },
  };
}
type Trial = Awaited<ReturnType<Awaited<ReturnType<typeof startActor>>["trial"]>>;

const started = process.hrtime.bigint();
const loadBefore = loadavg();
const nextItems = () => Array.from({ length: PROMPTS_PER_TRIAL }, () => source.next());
type Run = { round: number; calls: Trial; continuous: Trial; identicalGroups: number };
const runs: Run[] = [];
const updateRuns: Run[] = [];
for (let k = 0; k < ROUNDS; k++) {
  const actors = { calls: await startActor("calls", k), continuous: await startActor("continuous", k) };
  const warm = nextItems(); // untimed: each actor's first generations
  for (const m of MODES) await actors[m].trial(warm);
  // Without updates first (every actor still on its model directory's weights), then with them.
  for (const updates of [false, true]) {
    for (let r = 0; r < RUNS_PER_ROUND; r++) {
      const items = nextItems();
      const order: Mode[] = (k * RUNS_PER_ROUND + r) % 2 === 0 ? ["calls", "continuous"] : ["continuous", "calls"];
      const got = {} as Record<Mode, Trial>;
      for (const m of order) got[m] = await actors[m].trial(items, updates);
      const identicalGroups = items.filter((i) => got.calls.byUid.get(i.uid) === got.continuous.byUid.get(i.uid)).length;
      (updates ? updateRuns : runs).push({ round: k, calls: got.calls, continuous: got.continuous, identicalGroups });
      const rate = (t: Trial) => (t.tokens / t.seconds).toFixed(0);
      console.log(
        `round ${k + 1} run ${r + 1}${updates ? " (updates)" : ""}: calls ${rate(got.calls)} tok/s (occupancy ${got.calls.occupancy.toFixed(2)}, ${got.calls.versions} versions, lag ${got.calls.meanLag.toFixed(2)}), ` +
          `continuous ${rate(got.continuous)} tok/s (${got.continuous.occupancy.toFixed(2)}, ${got.continuous.versions} versions, lag ${got.continuous.meanLag.toFixed(2)}); identical groups ${identicalGroups}/${items.length}`,
      );
    }
  }
  for (const a of Object.values(actors)) await a.stop();
}
const totalSeconds = secondsSince(started);
await nc.close();
await server.stop();

const rateOf = (t: Trial) => t.tokens / t.seconds;
const side = (m: Mode, of: Run[] = runs) => ({
  tokensPerS: summarize(of.map((x) => rateOf(x[m]))),
  occupancy: summarize(of.map((x) => x[m].occupancy)),
  generateShare: summarize(of.map((x) => x[m].generateShare)),
  secondsPerTrial: summarize(of.map((x) => x[m].seconds)),
  versionsPerTrial: summarize(of.map((x) => x[m].versions)),
  meanLag: summarize(of.map((x) => x[m].meanLag)),
});
const runRecords = (of: Run[]) => of.map((x) => ({
  round: x.round,
  identicalGroups: x.identicalGroups,
  ...Object.fromEntries(MODES.map((m) => [m, { seconds: x[m].seconds, tokens: x[m].tokens, occupancy: x[m].occupancy, generateShare: x[m].generateShare, versions: x[m].versions, meanLag: x[m].meanLag }])),
}));
const result = {
  provenance: provenance.finish(),
  command: "npm run bench -- rollout-modes",
  date: new Date().toISOString(),
  machine: machine(),
  setup: {
    config: "configs/demo.yaml (demo-base policy), rollout.actors=1, one ORT thread per actor",
    rounds: ROUNDS,
    runsPerRound: RUNS_PER_ROUND,
    promptsPerTrial: PROMPTS_PER_TRIAL,
    calls: `promptsPerCall ${P} x G ${G} = ${P * G} rows per call`,
    continuous: `rollout.maxRows ${P * G}`,
    maxNewTokens: base.rollout.maxNewTokens,
    temperature: base.rollout.temperature,
    metric: "tokens/s = generated tokens / wall seconds from the first prompt published to the last group received; occupancy = the actor's liveRows / decodeRows over the trial; ratio = continuous / calls in the same run",
  },
  totalSeconds,
  loadAverage: { before: loadBefore, after: loadavg() },
  calls: side("calls"),
  continuous: side("continuous"),
  speedup: summarize(runs.map((x) => rateOf(x.continuous) / rateOf(x.calls))),
  identicalGroups: runs.map((x) => x.identicalGroups),
  runs: runRecords(runs),
  /** The same trials with a weights update after every `every` groups returned (the header says how). */
  updates: {
    every: UPDATE_EVERY,
    calls: side("calls", updateRuns),
    continuous: side("continuous", updateRuns),
    speedup: summarize(updateRuns.map((x) => rateOf(x.continuous) / rateOf(x.calls))),
    runs: runRecords(updateRuns),
  },
};
writeFileSync(join(import.meta.dirname, "results", "rollout-modes.json"), `${JSON.stringify(result, null, 2)}\n`);
console.log(`continuous / calls tokens/s ${fmt(result.speedup, 2)}; occupancy calls ${fmt(result.calls.occupancy, 2)}, continuous ${fmt(result.continuous.occupancy, 2)}`);
console.log(`with an update every ${UPDATE_EVERY} groups: continuous / calls tokens/s ${fmt(result.updates.speedup, 2)}; occupancy calls ${fmt(result.updates.calls.occupancy, 2)}, continuous ${fmt(result.updates.continuous.occupancy, 2)}; mean lag calls ${fmt(result.updates.calls.meanLag, 2)}, continuous ${fmt(result.updates.continuous.meanLag, 2)}`);
console.log(`total ${totalSeconds.toFixed(0)} s, load ${loadBefore.map((x) => x.toFixed(1)).join(" ")} -> ${result.loadAverage.after.map((x) => x.toFixed(1)).join(" ")}`);
process.exit(0);
