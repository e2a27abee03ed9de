// Prompts -> rollout groups: G samples per prompt, batched into one generate() call, turned into the
// contract's messages (token ids and log-probs as little-endian bytes).
import { bytesOf, int32Of } from "@lspo/bus";
import type { PromptRequest, RolloutGroup } from "@lspo/proto";
import type { Policy } from "./policy.js";

export interface GroupOptions {
  actor: string;
  maxNewTokens: number;
  temperature: number;
  topP: number;
  topK: number;
  seed: number;
  /** Continuous batching width (rollout.maxRows); absent: every sequence of the call at once. */
  maxRows?: number;
}

/** FNV-1a over the uids: a sampling seed that depends only on what is generated, not on who generates it. */
export function seedFor(base: number, uids: readonly string[]): number {
  let h = 0x811c9dc5 ^ (base >>> 0);
  for (const u of uids) for (let i = 0; i < u.length; i++) h = Math.imul(h ^ u.charCodeAt(i), 0x01000193) >>> 0;
  return h >>> 0;
}

export function promptIdsOf(p: PromptRequest, policy: Policy): number[] {
  return p.promptIds.byteLength > 0 ? Array.from(int32Of(p.promptIds)) : policy.tokenizer.encode(p.promptText);
}

export async function generateGroups(policy: Policy, prompts: readonly PromptRequest[], o: GroupOptions): Promise<RolloutGroup[]> {
  const seqs: number[][] = [];
  const promptIds: number[][] = [];
  for (const p of prompts) {
    const ids = promptIdsOf(p, policy);
    promptIds.push(ids);
    const G = Math.max(1, p.groupSize);
    for (let i = 0; i < G; i++) seqs.push(ids);
  }
  const first = prompts[0]?.sampling;
  const temperature = first?.temperature ?? o.temperature;
  const greedy = temperature === 0;
  const result = await policy.generate(seqs, {
    maxNewTokens: first?.maxNewTokens || o.maxNewTokens,
    sampling: greedy ? undefined : { temperature, topP: first?.topP || o.topP, topK: first?.topK ?? o.topK },
    seed: greedy ? undefined : seedFor(o.seed + Number(first?.seed ?? 0), prompts.map((p) => p.uid)),
    stopTokenIds: policy.stopTokens(first?.stopTokenIds ?? []),
    maxRows: o.maxRows,
  });
  const recorded = { temperature, topP: first?.topP || o.topP, topK: first?.topK ?? o.topK, maxNewTokens: first?.maxNewTokens || o.maxNewTokens, seed: first?.seed ?? 0n, stopTokenIds: first?.stopTokenIds ?? [] };
  const version = BigInt(policy.version);
  const out: RolloutGroup[] = [];
  let k = 0;
  for (const [pi, p] of prompts.entries()) {
    const G = Math.max(1, p.groupSize);
    const responses = [];
    for (let i = 0; i < G; i++, k++) {
      const tokens = result.tokens[k];
      responses.push({
        tokenIds: bytesOf(Int32Array.from(tokens)),
        logprobs: bytesOf(Float32Array.from(result.logprobs[k])),
        truncated: result.truncated[k],
        text: policy.tokenizer.decode(tokens, { skipSpecialTokens: true, unknownIds: "mark" }),
      });
    }
    // The group carries the exact prompt tokens it was sampled from, and the temperature: the learner
    // trains on those tokens and takes its log-probs at that temperature, as recorded here.
    const prompt = { ...p, promptIds: bytesOf(Int32Array.from(promptIds[pi])), sampling: { ...recorded, ...p.sampling, temperature } };
    out.push({ uid: p.uid, prompt, responses, policyVersion: version, actor: o.actor, generatedAt: new Date() });
  }
  return out;
}
