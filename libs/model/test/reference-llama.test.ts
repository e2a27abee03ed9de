// Checks the test-only float64 reference forward against transformers' logits, so it can stand in for
// transformers where the fixture does not cover an architecture (qwen2/qwen3) or a code path.
import { describe, expect, it } from "vitest";
import { parseConfigJson } from "../src/hf/config-json.js";
import { weightsFromCheckpoint } from "../src/hf/params.js";
import { decodeEntry, parseSafetensors } from "../src/hf/safetensors.js";
import { fixtureBytes, fixtureText } from "./support/fixture.js";
import { ReferenceLlama } from "./support/reference-llama.js";

describe("reference forward - against transformers", () => {
  it("matches the fixture's logits within 1e-4", () => {
    const config = parseConfigJson(fixtureText("config.json"));
    const weights = weightsFromCheckpoint(parseSafetensors(fixtureBytes("model.safetensors")).tensors, config);
    const ref = parseSafetensors(fixtureBytes("reference.safetensors")).tensors;
    const ids = decodeEntry(ref.get("input_ids")!);
    const want = decodeEntry(ref.get("logits")!);
    if (ids.dtype !== "int64" || want.dtype !== "float32") throw new Error("fixture dtypes changed");
    const [B, T] = ids.shape;
    const tokens = Array.from({ length: B }, (_, b) => Array.from(ids.data.subarray(b * T, (b + 1) * T), Number));
    const got = new ReferenceLlama(config, weights).logits(tokens);
    let maxErr = 0;
    const V = config.vocabSize;
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let v = 0; v < V; v++) {
      maxErr = Math.max(maxErr, Math.abs(got[b][t][v] - want.data[(b * T + t) * V + v]));
    }
    console.log(`reference vs transformers logits: max abs err ${maxErr.toExponential(2)}`);
    expect(maxErr).toBeLessThanOrEqual(1e-4);
    expect(maxErr).toBeGreaterThan(0); // float64 vs float32: equal to the bit would mean we compared it with itself
  });
});
