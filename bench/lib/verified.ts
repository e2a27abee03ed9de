// VerifiedGroup payloads for bench/sampler-service.ts: a fixed pool of group bodies (G responses with token
// ids, log-probs and text, rewards and verdicts) that messages share, each message with its own uid. The
// lengths and verdicts follow bench/sampler.ts's synthetic stream, so the library bench and the service
// bench judge the same kind of groups: responses of 64..2047 tokens, 10% truncated at 2048; 15% of groups
// all correct and 15% all wrong (the accuracy filter drops them), the rest mixed.
import { bytesOf, encodeEnvelope } from "@lspo/bus";
import type { Response, VerifiedGroup } from "@lspo/proto";
import { prng } from "./payloads.js";

export const MAX_LEN = 2048;
const ALPHABET = "abcdefghijklmnopqrstuvwxyz      0123456789+-=.,";

export interface GroupPool {
  groupSize: number;
  bodies: VerifiedGroup[];
  /** The body for message i with uid `uid` (shares the body's responses: nothing is copied). */
  group(i: number, uid: string): VerifiedGroup;
  /** Message i's envelope, encoded as the verifier publishes it (a copy: not a view into msgpackr's buffer). */
  envelope(i: number, uid: string): Uint8Array;
}

/**
 * `count` group bodies of `g` responses after a `promptTokens`-token prompt, token ids in [0, vocabSize),
 * ~3.5 characters of text per token (as BPE gives), sampled by policy version `policyVersion`.
 */
export function groupPool(count: number, g: number, promptTokens: number, vocabSize: number, policyVersion: bigint, seed = 42): GroupPool {
  const rand = prng(seed);
  // One long random text; each response's text is a slice of it (the codec copies strings either way).
  const corpus = Array.from({ length: Math.round(MAX_LEN * 3.5) + 1024 }, () => ALPHABET[Math.floor(rand() * ALPHABET.length)]).join("");
  const text = (chars: number) => {
    const at = Math.floor(rand() * (corpus.length - chars));
    return corpus.slice(at, at + chars);
  };
  const ids = (n: number) => bytesOf(Int32Array.from({ length: n }, () => Math.floor(rand() * vocabSize)));
  const bodies = Array.from({ length: count }, (): VerifiedGroup => {
    const lengths = Array.from({ length: g }, () => (rand() < 0.1 ? MAX_LEN : 64 + Math.floor(rand() * (MAX_LEN - 64))));
    const r = rand();
    const correct = r < 0.15 ? Array<boolean>(g).fill(true) : r < 0.3 ? Array<boolean>(g).fill(false) : Array.from({ length: g }, (_, i) => i % 2 === 0);
    const responses: Response[] = lengths.map((L) => ({
      tokenIds: ids(L),
      // Sampled-token log-probs: finite, mostly near 0, a tail down to about -12.
      logprobs: bytesOf(Float32Array.from({ length: L }, () => Math.log(1e-5 + rand()))),
      truncated: L === MAX_LEN,
      text: text(Math.round(L * 3.5)),
    }));
    return {
      group: {
        uid: "",
        prompt: {
          uid: "", runId: "bench", task: "synthetic", promptText: text(Math.round(promptTokens * 3.5)), promptIds: ids(promptTokens),
          answer: "42", groupSize: g, cursor: 1n, requestedAt: new Date(0),
          sampling: { temperature: 1, topP: 1, topK: 0, maxNewTokens: MAX_LEN, seed: 7n, stopTokenIds: [0] },
        },
        responses,
        policyVersion,
        actor: "rollout-0",
        generatedAt: new Date(0),
      },
      rewards: correct.map((c) => (c ? 1 : 0)),
      correct,
    };
  });
  const group = (i: number, uid: string): VerifiedGroup => {
    const b = bodies[i % bodies.length];
    return { ...b, group: { ...b.group!, uid, prompt: { ...b.group!.prompt!, uid } } };
  };
  return { groupSize: g, bodies, group, envelope: (i, uid) => Uint8Array.from(encodeEnvelope("VerifiedGroup", group(i, uid))) };
}
