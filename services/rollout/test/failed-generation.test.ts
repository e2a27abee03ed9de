// What a failed generation does with its prompts (failed-generation.ts): dead-letters those on their last
// delivery and gives the others back, rethrows when none is at the limit, and, once the actor's stop has begun,
// leaves every prompt as it is (never acked: it comes back) and rethrows.
import { describe, expect, it } from "vitest";
import { bytesOf, type Delivery } from "@lspo/bus";
import type { PromptRequest } from "@lspo/proto";
import { failedGeneration } from "../src/failed-generation.js";

/** Prompts p0, p1, ... on the given delivery counts, recording what was done to each. */
function prompts(deliveryCounts: number[]) {
  const done: string[] = [];
  const list = deliveryCounts.map((deliveryCount, i): Delivery<PromptRequest> => {
    const uid = `p${i}`;
    const body: PromptRequest = { uid, runId: "r", task: "t", promptText: "", promptIds: bytesOf(Int32Array.of(5, 6)), answer: "", groupSize: 2, cursor: BigInt(i) };
    return {
      body, subject: "lspo.prompts.r", seq: i + 1, deliveryCount,
      ack: () => void done.push(`ack ${uid}`), nak: (ms?: number) => void done.push(`nak ${uid} ${ms}`), working: () => undefined, term: () => undefined,
      deferAck: () => ({ reply: "" }), deadLetter: async (reason: string) => void done.push(`dead-letter ${uid}: ${reason}`),
    };
  });
  return { list, done };
}

const deps = (stopping: boolean, logged: string[] = []) => ({ maxDeliver: 3, stopping: () => stopping, logError: (_: Record<string, unknown>, m: string) => void logged.push(m) });

describe("rollout - a failed generation's prompts", () => {
  it("dead-letters those on their last delivery, gives the others back, and logs it", async () => {
    const { list, done } = prompts([3, 1]);
    const logged: string[] = [];
    await failedGeneration(new Error("decoder broke"), list, deps(false, logged));
    expect(done).toEqual(["dead-letter p0: generation failed on delivery 3 of 3: decoder broke", "nak p1 1000"]);
    expect(logged).toEqual(["prompts dead-lettered after their last delivery"]);
  });

  it("rethrows, touching nothing, when none is at its last delivery (the actor restarts)", async () => {
    const { list, done } = prompts([1, 2]);
    await expect(failedGeneration(new Error("decoder broke"), list, deps(false))).rejects.toThrow("decoder broke");
    expect(done).toEqual([]);
  });

  it("once the stop has begun, rethrows and dead-letters nothing, not even a prompt on its last delivery", async () => {
    const { list, done } = prompts([3, 1]);
    await expect(failedGeneration(new Error("publish timed out (NATS away during the drain)"), list, deps(true))).rejects.toThrow("NATS away");
    expect(done).toEqual([]);
  });
});
