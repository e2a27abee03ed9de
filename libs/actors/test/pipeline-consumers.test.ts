// The prompt consumer's maxAckPending is shared by every rollout actor: it must cover what each may hold
// unacked in its mode, or one actor's read-ahead starves another.
import { describe, expect, it } from "vitest";
import { resolveConfig } from "@lspo/config";
import { pipelineConsumer, promptsHeldPerActor } from "../src/pipeline-consumers.js";

const config = (rollout: Record<string, number>) => resolveConfig({ run: { name: "held" }, rollout });

describe("pipelineConsumer - rollout", () => {
  it("by calls: two calls per actor; continuous: the groups decoding and waiting, the intake and the client's fetch", () => {
    expect(promptsHeldPerActor(config({ promptsPerCall: 4, groupSize: 8 }))).toBe(8);
    // maxRows 32 of groups of 8: 4 groups decoding, 1 waiting for rows, 4 in the intake, 4 fetched.
    expect(promptsHeldPerActor(config({ promptsPerCall: 4, groupSize: 8, maxRows: 32 }))).toBe(13);
    expect(promptsHeldPerActor(config({ promptsPerCall: 2, groupSize: 3, maxRows: 4 }))).toBe(2 + 1 + 4);
    expect(pipelineConsumer("rollout", config({ promptsPerCall: 8, groupSize: 8, actors: 3 })).opts.maxAckPending).toBe(48);
    expect(pipelineConsumer("rollout", config({ promptsPerCall: 8, groupSize: 8, actors: 3, maxRows: 64 })).opts.maxAckPending).toBe(3 * (8 + 1 + 16));
    expect(pipelineConsumer("rollout", config({ promptsPerCall: 1, groupSize: 8, actors: 1 })).opts.maxAckPending).toBe(16); // the floor
  });
});
