// What a consumer can only check knowing the run: token ids inside the model's vocabulary, and how large
// a payload of each kind can legitimately be. Both come from the run's model (vocabulary, context) and
// config (G, max new tokens, B); a payload beyond them is refused (dead-lettered) before it is decoded,
// so a forged or corrupt message can neither crash a service nor make it allocate without bound.
import { int32Of } from "./codec.js";
import type { Validator } from "./messages.js";

export interface RunBounds {
  vocabSize: number;
  /** The model's context (max_position_embeddings): a prompt is at most this many tokens. */
  maxPositions: number;
  /** G: responses per group. */
  groupSize: number;
  maxNewTokens: number;
  /** B: groups per training batch. */
  batchSize: number;
}

/** The bounds of a run: its config's G, max new tokens and B, its model's vocabulary and context. */
export function runBoundsOf(
  run: { rollout: { groupSize: number; maxNewTokens: number }; sampler: { batchSize: number } },
  model: { vocabSize: number; maxPositionEmbeddings: number },
): RunBounds {
  return {
    vocabSize: model.vocabSize,
    maxPositions: model.maxPositionEmbeddings,
    groupSize: run.rollout.groupSize,
    maxNewTokens: run.rollout.maxNewTokens,
    batchSize: run.sampler.batchSize,
  };
}

// Generous on purpose: a limit that refused a legitimate message would turn a slow run into a lossy one.
// A token's text is a few bytes in practice; 64 covers degenerate vocabularies (long whitespace runs).
const TEXT_BYTES_PER_TOKEN = 64;
const KIB = 1024;

/** The largest envelope of each kind this run can produce, in bytes. */
export function payloadLimits(b: RunBounds): Record<"PromptRequest" | "RolloutGroup" | "VerifiedGroup" | "TrainingBatch", number> {
  const prompt = 64 * KIB + b.maxPositions * (4 + TEXT_BYTES_PER_TOKEN);
  const response = KIB + b.maxNewTokens * (4 + 4 + TEXT_BYTES_PER_TOKEN);
  const rollout = prompt + b.groupSize * response + 4 * KIB;
  const verified = rollout + b.groupSize * 32 + KIB;
  return { PromptRequest: prompt, RolloutGroup: rollout, VerifiedGroup: verified, TrainingBatch: b.batchSize * verified + 4 * KIB };
}

/** `path[i] = id` for the first id of `bytes` (int32) outside [0, vocab), or null. */
function outsideVocabulary(bytes: Uint8Array, vocab: number, path: string): string | null {
  const ids = int32Of(bytes);
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] < 0 || ids[i] >= vocab) return `${path}[${i}] = ${ids[i]} is outside the vocabulary [0, ${vocab})`;
  }
  return null;
}

interface Prompt {
  promptIds: Uint8Array;
}
interface Rollout {
  prompt: Prompt;
  responses: Array<{ tokenIds: Uint8Array }>;
}

function rolloutIds(g: Rollout, vocab: number, path: string): string | null {
  const p = outsideVocabulary(g.prompt.promptIds, vocab, `${path}.prompt.promptIds`);
  if (p) return p;
  for (let r = 0; r < g.responses.length; r++) {
    const e = outsideVocabulary(g.responses[r].tokenIds, vocab, `${path}.responses[${r}].tokenIds`);
    if (e) return e;
  }
  return null;
}

// Where the token ids sit in each kind, as a table: kind -> check of a structurally valid body.
const TOKEN_CHECKS: Record<string, (body: unknown, vocab: number) => string | null> = {
  PromptRequest: (body, vocab) => outsideVocabulary((body as Prompt).promptIds, vocab, "PromptRequest.promptIds"),
  RolloutGroup: (body, vocab) => rolloutIds(body as Rollout, vocab, "RolloutGroup"),
  VerifiedGroup: (body, vocab) => rolloutIds((body as { group: Rollout }).group, vocab, "VerifiedGroup.group"),
  TrainingBatch: (body, vocab) => {
    const groups = (body as { groups: Array<{ group: Rollout }> }).groups;
    for (let i = 0; i < groups.length; i++) {
      const e = rolloutIds(groups[i].group, vocab, `TrainingBatch.groups[${i}].group`);
      if (e) return e;
    }
    return null;
  },
};

/**
 * Token ids of every prompt and response inside [0, vocabSize), for a message kind whose structure its
 * structural validator has already checked (consume() runs that one first).
 */
export function vocabularyValidator(kind: string, vocabSize: number): Validator {
  const check = TOKEN_CHECKS[kind];
  if (!check) throw new Error(`vocabularyValidator: kind '${kind}' carries no token ids; kinds that do: ${Object.keys(TOKEN_CHECKS).join(", ")}`);
  return (body) => check(body, vocabSize);
}

/** Runs validators in order; the first problem wins. */
export function allOf(...validators: Array<Validator | undefined>): Validator {
  return (body) => {
    for (const v of validators) {
      const problem = v?.(body) ?? null;
      if (problem) return problem;
    }
    return null;
  };
}
