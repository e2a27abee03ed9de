// Realistic bus payloads for the benchmarks: a RolloutGroup as a rollout actor publishes it (G responses,
// int32 token ids and float32 log-probs as little-endian bytes, the decoded text), sized by the number of
// tokens per response so that its encoded envelope is as close as possible to a target size.
import { bytesOf, encodeEnvelope } from "@lspo/bus";
import type { RolloutGroup } from "@lspo/proto";

const VOCAB = 151_936; // Qwen2's vocabulary: token ids span the int32 range a real actor emits.

/** mulberry32: the same payload on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = "abcdefghijklmnopqrstuvwxyz      0123456789+-=.,";

/**
 * A group of `g` responses of `tokens` tokens each after a prompt of `promptTokens` tokens (~3.5 characters
 * of text per token, as BPE gives).
 */
export function rolloutGroup(g: number, tokens: number, promptTokens: number, seed = 1): RolloutGroup {
  const rand = prng(seed);
  const text = (n: number) => Array.from({ length: n }, () => ALPHABET[Math.floor(rand() * ALPHABET.length)]).join("");
  const promptIds = Int32Array.from({ length: promptTokens }, () => Math.floor(rand() * VOCAB));
  const responses = Array.from({ length: g }, () => ({
    tokenIds: bytesOf(Int32Array.from({ length: tokens }, () => Math.floor(rand() * VOCAB))),
    // Sampled-token log-probs: finite, mostly near 0, a tail down to about -12.
    logprobs: bytesOf(Float32Array.from({ length: tokens }, () => Math.log(1e-5 + rand()))),
    truncated: rand() < 0.1,
    text: text(Math.round(tokens * 3.5)),
  }));
  return {
    uid: "bench-prompt-000001@0",
    prompt: {
      uid: "bench-prompt-000001@0", runId: "bench", task: "synthetic", promptText: text(Math.round(promptTokens * 3.5)), promptIds: bytesOf(promptIds),
      answer: "42", groupSize: g, cursor: 1n, requestedAt: new Date(0),
      sampling: { temperature: 1, topP: 1, topK: 0, maxNewTokens: 2048, seed: 7n, stopTokenIds: [151643, 151645] },
    },
    responses,
    policyVersion: 3n,
    actor: "rollout-0",
    generatedAt: new Date(0),
  };
}

export interface SizedPayload {
  label: string;
  targetBytes: number;
  groupSize: number;
  promptTokens: number;
  tokensPerResponse: number;
  body: RolloutGroup;
  /** The encoded envelope both paths publish (byte-identical). */
  bytes: Uint8Array;
}

/**
 * The largest group of `g` responses after a `promptTokens`-token prompt whose encoded envelope fits in
 * `targetBytes` (binary search on the response length).
 */
export function sizedRolloutGroup(label: string, targetBytes: number, g: number, promptTokens: number): SizedPayload {
  const size = (t: number) => encodeEnvelope("RolloutGroup", rolloutGroup(g, t, promptTokens)).byteLength;
  if (size(1) > targetBytes) throw new Error(`a ${g}-response group does not fit in ${targetBytes} bytes`);
  let lo = 1;
  let hi = Math.ceil(targetBytes / g);
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (size(mid) <= targetBytes) lo = mid;
    else hi = mid - 1;
  }
  const body = rolloutGroup(g, lo, promptTokens);
  // A copy, so the raw path's bytes are not a view into msgpackr's shared pack buffer.
  return { label, targetBytes, groupSize: g, promptTokens, tokensPerResponse: lo, body, bytes: Uint8Array.from(encodeEnvelope("RolloutGroup", body)) };
}
