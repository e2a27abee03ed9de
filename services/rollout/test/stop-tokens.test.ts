// Which tokens end a response: config.json's eos ids, generation_config.json's, and the request's own
// stopTokenIds (added, not replacing); ids outside the vocabulary are refused, naming the field.
import { describe, expect, it } from "vitest";
import { bytesOf } from "@lspo/bus";
import type { LlamaConfig } from "@lspo/model";
import type { PromptRequest } from "@lspo/proto";
import { stopTokenIds } from "../src/policy.js";
import { promptProblem } from "../src/validate.js";

const config = { vocabSize: 48, eosTokenIds: [1] } as LlamaConfig;

describe("rollout - stop tokens", () => {
  it("joins config.json's, generation_config.json's and the request's, sorted and deduplicated", () => {
    expect(stopTokenIds(config, [])).toEqual([1]);
    expect(stopTokenIds(config, [7, 1])).toEqual([1, 7]);
    expect(stopTokenIds(config, [7], [3, 7])).toEqual([1, 3, 7]);
    expect(() => stopTokenIds(config, [], [48])).toThrow("sampling.stopTokenIds[0] is 48: not a token id of this model (vocabulary [0, 48))");
  });

  it("a request's stop token outside the vocabulary is refused by validation, naming it", () => {
    const p: PromptRequest = {
      uid: "u", runId: "r", task: "t", promptText: "", promptIds: bytesOf(Int32Array.from([2, 3])), answer: "", groupSize: 2, cursor: 0n,
      sampling: { temperature: 1, topP: 1, topK: 0, maxNewTokens: 4, seed: 0n, stopTokenIds: [5, 99] },
    };
    const limits = { vocabSize: 48, maxGroupSize: 8, maxPositions: 64, defaultMaxNewTokens: 4, encode: () => [] };
    expect(promptProblem(p, "prompts[0]", limits, false)).toEqual({ field: "prompts[0].sampling.stopTokenIds[1]", problem: "99 is outside the vocabulary [0, 48)" });
    expect(promptProblem({ ...p, sampling: { ...p.sampling!, stopTokenIds: [5] } }, "prompts[0]", limits, false)).toBeNull();
  });
});
