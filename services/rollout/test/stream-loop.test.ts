// The continuous mode's loop (stream.ts) where the outcome hangs on its own control flow rather than on NATS:
// a batch that fails hands exactly the prompts it had admitted to the failure path, and the prompts still
// waiting go on to the next batch; a drain publishes what was admitted and gives back what was taken but never
// joined. The
// deliveries are stand-ins that record what the loop did to them (Delivery is our interface); the policy is a
// real one on the fixture model, with real ORT sessions. The same loop on real NATS: test/e2e/rollout-continuous.
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { bytesOf, type Delivery } from "@lspo/bus";
import { serializeSafetensors } from "@lspo/model";
import type { PromptRequest, RolloutGroup } from "@lspo/proto";
import { readModelDir } from "@lspo/tasks";
import { Intake } from "../src/intake.js";
import { Policy, type WeightsFollower } from "../src/policy.js";
import { streamLoop, type StreamDeps } from "../src/stream.js";

const modelDir = fileURLToPath(new URL("../../../test/fixtures/hf/llama", import.meta.url));
const G = 3;

/** What the loop did to one delivery. */
interface Fate {
  acked: number;
  naked: number;
  failed: number;
}

function deliveries(n: number) {
  const fates = new Map<string, Fate>();
  const list = Array.from({ length: n }, (_, i): Delivery<PromptRequest> => {
    const uid = `p${i}`;
    const fate: Fate = { acked: 0, naked: 0, failed: 0 };
    fates.set(uid, fate);
    const body: PromptRequest = { uid, runId: "r", task: "t", promptText: "", promptIds: bytesOf(Int32Array.from([5 + i, 6, 7])), answer: "", groupSize: G, cursor: BigInt(i) };
    return {
      body, subject: "lspo.prompts.r", seq: i + 1, deliveryCount: 1,
      ack: () => void fate.acked++, nak: () => void fate.naked++, working: () => undefined, term: () => undefined,
      deferAck: () => ({ reply: "" }), deadLetter: async () => undefined,
    };
  });
  return { list, fates };
}

/** A subscription over `list` that stays open (as a live one does) until `end()`. */
function subscription(list: Delivery<PromptRequest>[]) {
  let end!: () => void;
  const ended = new Promise<void>((resolve) => (end = resolve));
  async function* source() {
    yield* list;
    await ended;
  }
  return { source: source(), end };
}

function deps(policy: Policy, intake: Intake<PromptRequest>, over: Partial<StreamDeps>): StreamDeps {
  return {
    policy,
    weights: { sync: async () => false, behind: async () => false, holdWhileRefused: async () => true } as unknown as WeightsFollower,
    options: { actor: "a", maxNewTokens: 8, temperature: 1, topP: 1, topK: 0, seed: 1, maxRows: 4 },
    intake,
    exclusive: (fn) => fn(),
    callsWaiting: () => 0,
    draining: () => false,
    publish: async () => undefined,
    failed: async () => undefined,
    refused: () => false,
    counters: { syncSeconds: 0, generateSeconds: 0 },
    generating: () => undefined,
    inFlight: new Set(),
    ackWaitMs: 60_000,
    warn: () => undefined,
    ...over,
  };
}

describe("rollout continuous mode - the loop's own outcomes", () => {
  it("a drain publishes every prompt the batch admitted and gives back every one it took that never joined", async () => {
    const policy = await Policy.load({ modelDir, device: "cpu", threads: 1 });
    const { list, fates } = deliveries(8);
    const sub = subscription(list);
    const intake = new Intake(sub.source, 2);
    const published: RolloutGroup[] = [];
    let draining = false;
    await streamLoop(deps(policy, intake, {
      draining: () => draining,
      publish: async (group, d) => {
        published.push(group);
        d.ack();
        // The actor is told to stop once the first group is out; the subscription ends as sub.stop() ends it.
        if (!draining) {
          draining = true;
          sub.end();
        }
      },
    }));
    const all = [...fates.values()];
    const state = JSON.stringify([...fates]);
    expect(all.every((f) => f.acked + f.naked <= 1 && f.failed === 0), state).toBe(true);
    // The batch had admitted two groups (4 rows, groups of 3) when the drain came: both were finished and published.
    expect(published.length, state).toBe(2);
    expect([...fates].filter(([, f]) => f.acked).map(([uid]) => uid)).toEqual(published.map((g) => g.uid));
    // The intake's two (read ahead, never admitted) went back; the rest were never taken from the subscription
    // (on NATS they stay on the stream, undelivered).
    expect([...fates].filter(([, f]) => f.naked).map(([uid]) => uid), state).toEqual(["p2", "p3"]);
    expect(all.filter((f) => f.acked + f.naked === 0).length).toBe(4);
  });

  it("a batch that fails hands the failure path exactly the prompts it admitted; those still waiting go to the next batch", async () => {
    const policy = await Policy.load({ modelDir, device: "cpu", threads: 1 });
    // A version whose final norm is finite but huge: the logits overflow to infinities, their softmax is NaN, and
    // sampling refuses the row. (A version holding NaN itself is refused before it is used: refused-weights.test.ts.)
    const model = readModelDir(modelDir);
    const broken = [...model.weights].map(([name, t]) => [name, name === "model.norm.weight" ? { ...t, data: new Float32Array(t.data.length).fill(3e38) } : t] as const);
    await policy.setWeights([serializeSafetensors(broken)], 1);
    const { list, fates } = deliveries(6);
    const sub = subscription(list);
    const intake = new Intake(sub.source, 2);
    const batches: string[][] = [];
    await streamLoop(deps(policy, intake, {
      failed: async (err, ds) => {
        expect(err.message).toMatch(/NaN|non-finite/);
        batches.push(ds.map((d) => d.body.uid));
        ds.forEach((d) => fates.get(d.body.uid)!.failed++);
        if (batches.flat().length === 6) sub.end();
      },
    }));
    // Each failed batch held what it had admitted, in order: whole groups, at most the rows' worth (4 rows, G 3).
    expect(batches.flat()).toEqual(list.map((d) => d.body.uid));
    expect(batches.every((b) => b.length >= 1 && b.length <= 2)).toBe(true);
    expect([...fates.values()].every((f) => f.failed === 1 && f.acked === 0 && f.naked === 0)).toBe(true);
  });
});
