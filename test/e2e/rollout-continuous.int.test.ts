// The rollout actor's continuous mode (rollout.maxRows): prompts join one batch as rows free up, whichever pull
// they came in, and a new weights version is taken between batches, never inside one. `lspo serve rollout` on a
// real nats-server with real ORT sessions; the learner's publisher puts a new version up while the actor is
// busy. Every group must be exactly what its recorded version generates for it alone (each group samples on a
// seed of its own), and once a group of the new version is out, no group of the old one follows. Then: a gRPC
// Generate call is served while the stream runs, and an actor stopped while busy leaves nothing behind, in
// either mode (the call mode's stop is here too: both give back what their client had pulled, at once).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  STREAMS, bytesOf, connectBus, decodeEnvelope, ensureStreams, float32Of, int32Of, jetstream, jetstreamManager, publishMessage, startNatsServer, subjectFor,
  type JetStreamClient, type JetStreamManager, type NatsConnection, type NatsServer,
} from "@lspo/bus";
import { resolveConfig, type RunConfig } from "@lspo/config";
import { createModelFromSpec, type Weights } from "@lspo/model";
import { WeightsPublisher } from "@lspo/learner";
import { RolloutServiceService, type PromptRequest, type RolloutGroup } from "@lspo/proto";
import { ActorRegistry, actorHandle } from "@lspo/actors";
import { Policy, WeightsFollower, generateGroups } from "@lspo/rollout";
import { writeModelDir } from "@lspo/tasks";
import { startService, type Service } from "../../bench/lib/serve.js";
import { until } from "./support/wait.js";

const RUN = "continuous";
const G = 3;
const BEFORE = 40; // prompts published before the new version: the actor is still busy with them when it lands
const AFTER = 6; // and after

let dir: string;
let server: NatsServer;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let rollout: Service | null = null;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "lspo-continuous-"));
  server = await startNatsServer({ storeDir: join(dir, "nats") });
  nc = await connectBus({ url: server.url, name: "rollout-continuous" });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  await ensureStreams(jsm);
}, 60_000);

afterAll(async () => {
  await rollout?.stop().catch(() => undefined);
  await nc?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function promptOf(i: number, run = RUN): PromptRequest {
  const ids = Array.from({ length: 2 + (i % 5) }, (_, t) => 3 + ((i * 7 + t * 5) % 40));
  return { uid: `p${String(i).padStart(2, "0")}`, runId: run, task: "synthetic", promptText: "", promptIds: bytesOf(Int32Array.from(ids)), answer: "", groupSize: G, cursor: BigInt(i) };
}

async function publishPrompts(from: number, to: number, run = RUN): Promise<void> {
  for (let i = from; i < to; i++) await publishMessage(js, subjectFor("prompts", run), "PromptRequest", promptOf(i, run), { msgId: `prompt-${run}-${i}` });
}

/** A run's rollout groups, in stream order (a work queue: read by sequence, nothing consumed). */
async function groups(run = RUN): Promise<RolloutGroup[]> {
  const { state } = await jsm.streams.info(STREAMS.rollouts.name);
  const out: RolloutGroup[] = [];
  for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(STREAMS.rollouts.name, { seq });
    if (!m) throw new Error(`${STREAMS.rollouts.name}: no message at seq ${seq}`);
    if (m.subject === subjectFor("rollouts", run)) out.push(decodeEnvelope(m.data, "RolloutGroup").body as RolloutGroup);
  }
  return out;
}
/** How many groups a run has put out. */
const groupsOut = async (run = RUN) => {
  const subject = subjectFor("rollouts", run);
  return (await jsm.streams.info(STREAMS.rollouts.name, { subjects_filter: subject })).state.subjects?.[subject] ?? 0;
};

/**
 * After a first actor was stopped: a second one (`name`) on the same run finishes it. Every prompt's group is out
 * once, within 60 s (less than the tests' ack wait, so nothing the first held may wait it out), and nothing is
 * left unacked or undelivered on the prompt consumer. Returns the run's groups.
 */
async function secondActorFinishes(run: string, config: RunConfig, total: number, name: string): Promise<RolloutGroup[]> {
  const second = startService("rollout", config, { name, logDir: dir, readyTimeoutMs: 60_000 });
  try {
    await second.ready;
    await until("every group", async () => (await groupsOut(run)) >= total, 60_000);
    const out = await groups(run);
    expect(out.map((g) => g.uid).sort()).toEqual(Array.from({ length: total }, (_, i) => promptOf(i, run).uid));
    await until("the prompt consumer drained", async () => {
      const c = await jsm.consumers.info(STREAMS.prompts.name, `rollout-${run}`);
      return c.num_ack_pending === 0 && c.num_pending === 0;
    }, 30_000);
    return out;
  } finally {
    await second.stop();
  }
}

let modelMade: ReturnType<typeof createModelFromSpec> | null = null;
/** The tiny model both tests' actors load (random weights: responses of mixed lengths). */
function model() {
  if (!modelMade) {
    modelMade = createModelFromSpec({
      seed: 5,
      initializer_range: 0.3,
      model: { model_type: "llama", hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 256, tie_word_embeddings: true },
    });
    writeModelDir(join(dir, "model"), modelMade);
  }
  return modelMade;
}

/** The run config both tests use: 4 rows for groups of 3, so a group's samples share rows with the next prompt's, from another pull. */
const configFor = (run: string, extra: Record<string, number> = {}): RunConfig =>
  resolveConfig({
    run: { name: run, dir: join(dir, run), seed: 21 },
    nats: { url: server.url },
    model: { dir: join(dir, "model") },
    rollout: { groupSize: G, maxRows: 4, promptsPerCall: 2, maxNewTokens: 96, temperature: 1, ...extra },
  });
const groupOptions = { maxNewTokens: 96, temperature: 1, topP: 1, topK: 0, seed: 21 };

/** The model's weights, each moved a little: a version whose samples differ from the base's. */
function perturbed(w: Weights): Weights {
  let s = 99;
  return new Map([...w].map(([name, t]) => [name, {
    ...t,
    data: Float32Array.from(t.data as Float32Array, (x) => ((s = (s * 1103515245 + 12345) >>> 0), x + ((s / 2 ** 32) - 0.5) * 0.2)),
  }]));
}

/**
 * Checks `got`'s samples against `want`'s, generated alone (see the first test for why a sample may differ by a
 * rounding flip, and how one is told from a real difference); returns the flips.
 */
function sameSamples(got: RolloutGroup, want: RolloutGroup): string[] {
  const flips: string[] = [];
  got.responses.forEach((r, k) => {
    const what = `${got.uid} sample ${k} (v${got.policyVersion})`;
    const [tokens, ref] = [Array.from(int32Of(r.tokenIds)), Array.from(int32Of(want.responses[k].tokenIds))];
    const [lp, refLp] = [float32Of(r.logprobs), float32Of(want.responses[k].logprobs)];
    const at = tokens.findIndex((x, t) => x !== ref[t]);
    for (let t = 0; t < (at < 0 ? tokens.length : at); t++) expect(Math.abs(lp[t] - refLp[t]), `${what}, token ${t}`).toBeLessThan(1e-4);
    if (at < 0) expect(tokens.length, what).toBe(ref.length);
    else {
      expect(Math.abs(tokens[at] - ref[at]), `${what} differs at token ${at}: ${tokens[at]} against ${ref[at]}`).toBe(1);
      flips.push(`${what} at token ${at}`);
    }
  });
  return flips;
}

describe("rollout actor - continuous across pulls, a new version between batches", { timeout: 240_000 }, () => {
  it("every group is what its recorded version generates for it alone, and versions never go back in the stream", async () => {
    const config = configFor(RUN);
    model();
    rollout = startService("rollout", config, { name: "rollout-0", logDir: dir, readyTimeoutMs: 60_000 });
    await rollout.ready;
    expect(readFileSync(rollout.logPath, "utf8")).toMatch(/"mode":"continuous".*"maxRows":4.*rollout actor ready/);

    await publishPrompts(0, BEFORE);
    await until("the first groups", async () => (await groupsOut()) >= 2, 60_000);
    const publisher = await WeightsPublisher.open(nc, RUN);
    await publisher.publish(perturbed(model().weights), 1, 1);
    await publishPrompts(BEFORE, BEFORE + AFTER);
    await until("every group", async () => {
      if (rollout!.child.exitCode !== null) throw new Error(`the actor exited (${rollout!.child.exitCode}); log ${rollout!.logPath}`);
      return (await groupsOut()) >= BEFORE + AFTER;
    }, 180_000);

    const out = await groups();
    expect(out.map((g) => g.uid).sort()).toEqual(Array.from({ length: BEFORE + AFTER }, (_, i) => promptOf(i).uid));
    const versions = out.map((g) => Number(g.policyVersion));
    expect(new Set(versions)).toEqual(new Set([0, 1]));
    // Batches are sequential and each is one version: the switch happens once, in stream order.
    const firstNew = versions.indexOf(1);
    expect(versions.slice(firstNew).every((v) => v === 1), `versions in stream order: ${versions.join("")}`).toBe(true);
    // The open batch closed for the new version while prompts published before it still waited (nothing else
    // closes a batch that has prompts to admit): the pointer was read while it ran.
    const versionOf = (i: number) => Number(out.find((g) => g.uid === promptOf(i).uid)!.policyVersion);
    expect(Array.from({ length: BEFORE }, (_, i) => versionOf(i)), "prompts published before the new version").toContain(1);
    // The last prompt was published after it: it comes out under it.
    expect(versionOf(BEFORE + AFTER - 1)).toBe(1);

    // Each group against its version, generated for it alone (call mode, one prompt). The actor's batches and
    // the reference's differ in shape, so logits differ in the last bits, and a draw that lands within that of
    // the boundary between two tokens may go either way (seen: 1 sample of 138 under load, at token 94, with the
    // log-probs before it within 2e-6). The sampler walks the distribution in id order, so such a flip picks
    // a neighbouring id. A group of the wrong version differs in its log-probs from the first token.
    const base = await Policy.load({ modelDir: join(dir, "model"), device: "cpu", threads: 1 });
    const updated = await Policy.load({ modelDir: join(dir, "model"), device: "cpu", threads: 1 });
    expect(await (await WeightsFollower.open(nc, RUN)).sync(updated)).toBe(true);
    const options = { actor: "rollout-0", ...groupOptions };
    const lengths = new Set<number>();
    const flips: string[] = [];
    for (const g of out) {
      const policy = Number(g.policyVersion) === 1 ? updated : base;
      const [want] = await generateGroups(policy, [promptOf(Number(g.prompt!.cursor))], options);
      flips.push(...sameSamples(g, want));
      g.responses.forEach((r) => lengths.add(r.tokenIds.byteLength / 4));
    }
    expect(flips.length, flips.join("; ")).toBeLessThanOrEqual(2);
    // Samples ended at different lengths (stop tokens): rows freed up at different steps.
    expect(lengths.size).toBeGreaterThan(1);

    // Nothing held once all is out; every group counted.
    const handle = actorHandle(await ActorRegistry.open(nc, { runId: RUN }), RolloutServiceService, "rollout-0", { deadlineMs: 2000 });
    let counters: Record<string, number> = {};
    await until("the actor's status", async () => {
      counters = ((await handle.call.status({}).catch(() => null))?.status?.counters ?? {}) as Record<string, number>;
      return counters.groups === BEFORE + AFTER && counters.promptsInHand === 0;
    }, 30_000);
    expect(counters.policyVersion).toBe(1);
    // Row occupancy counters: every live row of a decode step made one token (the first came from a prefill).
    const tokens = out.reduce((n, g) => n + g.responses.reduce((m, r) => m + r.tokenIds.byteLength / 4, 0), 0);
    expect(counters.liveRows).toBe(tokens - out.length * G);
    expect(counters.decodeRows).toBeGreaterThanOrEqual(counters.liveRows);
  });

  it("serves a gRPC Generate call while the stream runs, and a drained actor leaves no prompt behind: another finishes them", async () => {
    const run = "continuous-drain";
    const TOTAL = 40;
    model();
    // An ack wait longer than the test waits for the second actor: a prompt the stopped actor held, in its
    // batch's queue or in its client's last pull, must be given back at the stop, not after the ack wait.
    const config = configFor(run, { ackWaitMs: 120_000 });
    const first = startService("rollout", config, { name: "rollout-a", logDir: dir, readyTimeoutMs: 60_000 });
    await first.ready;
    await publishPrompts(0, TOTAL, run);
    await until("the first groups", async () => (await groupsOut(run)) >= 2, 60_000);

    // An evaluation call while the batch has prompts waiting: the batch closes for it, and it is served.
    const handle = actorHandle(await ActorRegistry.open(nc, { runId: run }), RolloutServiceService, "rollout-a", { deadlineMs: 60_000 });
    const asked = { ...promptOf(100, run), uid: "eval-0" };
    const reply = await handle.call.generate({ prompts: [asked] });
    const outAtReply = await groupsOut(run);
    expect(outAtReply, "the call returned before the stream ran out").toBeLessThan(TOTAL - 4);

    // Stopped while busy: it finishes and publishes what it admitted, hands back what waited, exits cleanly.
    const outAtStop = await groupsOut(run);
    await first.stop();
    expect(first.child.exitCode).toBe(0);
    // The call's group is what the policy generates for that prompt alone.
    const policy = await Policy.load({ modelDir: join(dir, "model"), device: "cpu", threads: 1 });
    const [want] = await generateGroups(policy, [asked], { actor: "rollout-a", ...groupOptions });
    expect(reply.groups.map((g) => g.uid)).toEqual(["eval-0"]);
    expect(sameSamples(reply.groups[0], want).length).toBeLessThanOrEqual(1);
    const out = await secondActorFinishes(run, config, TOTAL, "rollout-b");
    const byActor = (a: string) => out.filter((g) => g.actor === a).length;
    expect(byActor("rollout-a")).toBeGreaterThanOrEqual(outAtStop);
    expect(byActor("rollout-b"), `${outAtStop} groups out when the first actor was stopped`).toBeGreaterThan(0);
    expect(byActor("rollout-a") + byActor("rollout-b")).toBe(TOTAL);
  });

  it("by calls too: an actor stopped while busy gives back at once the prompts its client had pulled, and another finishes them", async () => {
    const run = "calls-drain";
    const TOTAL = 24;
    model();
    // The call mode (no maxRows): a call of 2 prompts, and the client pulls the next ones while it runs. The ack
    // wait is longer than the test waits for the second actor: what the stopped one held must come back at the stop.
    const config = resolveConfig({
      run: { name: run, dir: join(dir, run), seed: 21 },
      nats: { url: server.url },
      model: { dir: join(dir, "model") },
      rollout: { groupSize: G, promptsPerCall: 2, maxNewTokens: 96, temperature: 1, ackWaitMs: 120_000 },
    });
    const first = startService("rollout", config, { name: "rollout-calls-a", logDir: dir, readyTimeoutMs: 60_000 });
    await first.ready;
    await publishPrompts(0, TOTAL, run);
    await until("the first groups", async () => (await groupsOut(run)) >= 2, 60_000);
    await first.stop();
    expect(first.child.exitCode).toBe(0);
    const outAtStop = await groupsOut(run);
    expect(outAtStop, "the first actor was stopped before the stream ran out").toBeLessThan(TOTAL);
    const out = await secondActorFinishes(run, config, TOTAL, "rollout-calls-b");
    expect(out.filter((g) => g.actor === "rollout-calls-a").length).toBe(outAtStop);
  });
});
