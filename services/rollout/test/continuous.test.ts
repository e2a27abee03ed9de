// The rollout actor's continuous batching (rollout.maxRows): a call's groups come out as they do with every
// sequence decoded at once (same tokens, texts and log-probs to rounding), all under the policy's one version.
// And a group samples what it does whatever else shares its call: each group has a seed of its own.
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

  it("a group's samples do not depend on the other prompts of its call, nor on their order", async () => {
    const policy = await Policy.load({ modelDir, device: "cpu", threads: 1 });
    const prompts = [prompt("a", [5, 6, 7, 8, 9], 3), prompt("b", [10, 11], 3), prompt("c", [12, 13, 14], 2)];
    const options = { actor: "x", maxNewTokens: 16, temperature: 1, topP: 1, topK: 0, seed: 3 };
    const together = await generateGroups(policy, prompts, options);
    const tokensOf = (g: (typeof together)[number]) => g.responses.map((r) => Array.from(int32Of(r.tokenIds)));
    for (const [i, p] of prompts.entries()) {
      const [apart] = await generateGroups(policy, [p], options);
      expect(tokensOf(apart), p.uid).toEqual(tokensOf(together[i]));
    }
    const reversed = await generateGroups(policy, [...prompts].reverse(), { ...options, maxRows: 2 });
    expect(reversed.map(tokensOf)).toEqual([...together].reverse().map(tokensOf));
    // Two samples of one group differ (each has its own stream), and another run seed changes them.
    expect(tokensOf(together[0])[0]).not.toEqual(tokensOf(together[0])[1]);
    const reseeded = await generateGroups(policy, prompts, { ...options, seed: 4 });
    expect(reseeded.map(tokensOf)).not.toEqual(together.map(tokensOf));
  });
});
