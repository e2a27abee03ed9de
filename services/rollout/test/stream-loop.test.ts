// The continuous mode's loop (stream.ts) where the outcome hangs on its own control flow rather than on NATS:
// a batch that fails hands exactly the prompts it had admitted to the failure path, and the prompts still
// waiting go on to the next batch; a drain publishes what was admitted and gives back what was taken but never
// joined. The
// deliveries are stand-ins that record what the loop did to them (support/loop-stand-ins.ts); the policy is a
// real one on the fixture model, with real ORT sessions. The same loop on real NATS: test/e2e/rollout-continuous.
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { serializeSafetensors } from "@lspo/model";
import type { PromptRequest, RolloutGroup } from "@lspo/proto";
import { readModelDir } from "@lspo/tasks";
import { Intake } from "../src/intake.js";
import { Policy } from "../src/policy.js";
import { streamLoop } from "../src/stream.js";
import { deliveries, loopDeps, subscription } from "./support/loop-stand-ins.js";

const modelDir = fileURLToPath(new URL("../../../test/fixtures/hf/llama", import.meta.url));
const G = 3;

describe("rollout continuous mode - the loop's own outcomes", () => {
  it("a drain publishes every prompt the batch admitted and gives back every one it took that never joined", async () => {
    const policy = await Policy.load({ modelDir, device: "cpu", threads: 1 });
    const { list, fates } = deliveries(8, G);
    const sub = subscription(list);
    const intake = new Intake(sub.source, 2);
    const published: RolloutGroup[] = [];
    let draining = false;
    await streamLoop(loopDeps(policy, intake, {
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
    const { list, fates } = deliveries(6, G);
    const sub = subscription(list);
    const intake = new Intake(sub.source, 2);
    const batches: string[][] = [];
    await streamLoop(loopDeps(policy, intake, {
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
