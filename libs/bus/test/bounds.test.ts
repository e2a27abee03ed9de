// Run bounds: token ids checked against the vocabulary at the path where they sit, and payload limits that
// hold what the run produces with room to spare.
import { describe, expect, it } from "vitest";
import { bytesOf, encodeEnvelope, payloadLimits, runBoundsOf, validateVerifiedGroup, vocabularyValidator } from "@lspo/bus";

const bounds = runBoundsOf({ rollout: { groupSize: 4, maxNewTokens: 12 }, sampler: { batchSize: 4 } }, { vocabSize: 100, maxPositionEmbeddings: 256 });
const ids = (...xs: number[]) => bytesOf(Int32Array.from(xs));
const prompt = (promptIds = ids(1, 2)) => ({ uid: "u", runId: "r", task: "t", promptText: "", promptIds, answer: "1", groupSize: 4, cursor: 0n });
const group = (tokenIds = ids(3, 4), promptIds = ids(1, 2)) => ({
  uid: "u", prompt: prompt(promptIds), policyVersion: 0n, actor: "a",
  responses: [{ tokenIds, logprobs: bytesOf(new Float32Array(tokenIds.byteLength / 4)), truncated: false, text: "x" }],
});

describe("bus - run bounds", () => {
  it("names the first token id outside the vocabulary by its path, for every kind that carries ids", () => {
    expect(vocabularyValidator("PromptRequest", 100)(prompt(ids(1, 100)))).toBe("PromptRequest.promptIds[1] = 100 is outside the vocabulary [0, 100)");
    expect(vocabularyValidator("RolloutGroup", 100)(group(ids(5, -1)))).toBe("RolloutGroup.responses[0].tokenIds[1] = -1 is outside the vocabulary [0, 100)");
    expect(vocabularyValidator("VerifiedGroup", 100)({ group: group(ids(1), ids(7, 8, 999)), rewards: [1], correct: [true] })).toBe(
      "VerifiedGroup.group.prompt.promptIds[2] = 999 is outside the vocabulary [0, 100)",
    );
    const ok = { group: group(), rewards: [1], correct: [true] };
    expect(vocabularyValidator("TrainingBatch", 100)({ batchIndex: 0n, groups: [ok, { ...ok, group: group(ids(100)) }], objectRef: "" })).toBe(
      "TrainingBatch.groups[1].group.responses[0].tokenIds[0] = 100 is outside the vocabulary [0, 100)",
    );
    expect(vocabularyValidator("TrainingBatch", 100)({ batchIndex: 0n, groups: [ok], objectRef: "" })).toBeNull();
    expect(() => vocabularyValidator("WeightsRef", 100)).toThrow(/kind 'WeightsRef' carries no token ids; kinds that do: PromptRequest, RolloutGroup, VerifiedGroup, TrainingBatch/);
  });

  it("VerifiedGroup.correct must match the responses and be booleans", () => {
    expect(validateVerifiedGroup({ group: group(), rewards: [1], correct: [true, false] })).toBe("VerifiedGroup.correct has 2 entries for 1 responses");
    expect(validateVerifiedGroup({ group: group(), rewards: [1], correct: [1] })).toBe("VerifiedGroup.correct[0] should be boolean, got number");
  });

  it("limits hold the largest messages the run makes, and grow with G, max new tokens, B and the context", () => {
    const limits = payloadLimits(bounds);
    // A full-size group: a prompt filling the context, G responses of max new tokens with 16 bytes of text per token.
    const full = {
      ...group(),
      prompt: { ...prompt(bytesOf(new Int32Array(256))), promptText: "p".repeat(4 * 256) },
      responses: Array.from({ length: 4 }, () => ({ tokenIds: bytesOf(new Int32Array(12)), logprobs: bytesOf(new Float32Array(12)), truncated: true, text: "t".repeat(16 * 12) })),
    };
    const verified = { group: full, rewards: [1, 0, 1, 0], correct: [true, false, true, false] };
    expect(encodeEnvelope("PromptRequest", full.prompt).byteLength).toBeLessThan(limits.PromptRequest);
    expect(encodeEnvelope("RolloutGroup", full).byteLength).toBeLessThan(limits.RolloutGroup);
    expect(encodeEnvelope("VerifiedGroup", verified).byteLength).toBeLessThan(limits.VerifiedGroup);
    expect(encodeEnvelope("TrainingBatch", { batchIndex: 0n, groups: [verified, verified, verified, verified], objectRef: "" }).byteLength).toBeLessThan(limits.TrainingBatch);
    const bigger = payloadLimits({ ...bounds, groupSize: 8, maxNewTokens: 24, batchSize: 8, maxPositions: 512 });
    for (const k of ["PromptRequest", "RolloutGroup", "VerifiedGroup", "TrainingBatch"] as const) expect(bigger[k]).toBeGreaterThan(limits[k]);
  });
});
