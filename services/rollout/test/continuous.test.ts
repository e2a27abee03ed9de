// The rollout actor's continuous batching (rollout.maxRows): a call's groups come out as they do with every
// sequence decoded at once (same tokens, texts and log-probs to rounding), all under the policy's one version.
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { bytesOf, int32Of } from "@lspo/bus";
import type { PromptRequest } from "@lspo/proto";
import { generateGroups } from "../src/groups.js";
import { Policy } from "../src/policy.js";

const modelDir = fileURLToPath(new URL("../../../test/fixtures/hf/llama", import.meta.url));

function prompt(uid: string, ids: number[], groupSize: number): PromptRequest {
  return { uid, runId: "r", task: "t", promptText: "", promptIds: bytesOf(Int32Array.from(ids)), answer: "", groupSize, cursor: 0n };
}

describe("rollout - continuous batching", () => {
  it("generates the same groups with maxRows below the call's sequences, under one policy version", async () => {
    const policy = await Policy.load({ modelDir, device: "cpu", threads: 1 });
    policy.relabel(7);
    const prompts = [prompt("a", [5, 6, 7, 8, 9], 3), prompt("b", [10, 11], 3), prompt("c", [12, 13, 14], 2), prompt("d", [15], 3)];
    const options = { actor: "x", maxNewTokens: 20, temperature: 0.9, topP: 0.95, topK: 40, seed: 11 };
    const once = await generateGroups(policy, prompts, options);
    const continuous = await generateGroups(policy, prompts, { ...options, maxRows: 4 });
    expect(continuous.map((g) => g.uid)).toEqual(["a", "b", "c", "d"]);
    continuous.forEach((g, i) => {
      expect(g.policyVersion).toBe(7n);
      expect(g.responses.length).toBe(once[i].responses.length);
      g.responses.forEach((r, j) => {
        const want = once[i].responses[j];
        expect(Array.from(int32Of(r.tokenIds))).toEqual(Array.from(int32Of(want.tokenIds)));
        expect(r.text).toBe(want.text);
        expect(r.truncated).toBe(want.truncated);
      });
    });
  });
});
