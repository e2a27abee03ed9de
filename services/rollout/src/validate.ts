// What a rollout actor checks in a prompt before generating from it, the same for the prompt stream and for
// gRPC Generate: something to generate from, token ids inside the vocabulary, a group size within the
// run's G, sampling parameters in range, and prompt + new tokens within the model's context. A prompt that
// fails is refused by itself (dead-lettered, or INVALID_ARGUMENT naming the field): it never reaches
// generate(), where it would fail the whole batched call it shares with good prompts.
import { int32Of } from "@lspo/bus";
import type { PromptRequest, SamplingParams } from "@lspo/proto";

export interface PromptLimits {
  vocabSize: number;
  maxPositions: number;
  /** The run's G: the most responses one prompt may ask for. */
  maxGroupSize: number;
  /** The run's rollout.maxNewTokens: what a prompt without sampling parameters gets. */
  defaultMaxNewTokens: number;
  /** Tokens of a text prompt (the policy's tokenizer). */
  encode(text: string): number[];
}

export interface FieldProblem {
  field: string;
  problem: string;
}

// Sampling fields as a table: field -> check (0 means "the run's default" for the numeric ones).
const SAMPLING_CHECKS: Array<[keyof SamplingParams, (v: unknown) => string | null]> = [
  ["temperature", (v) => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? null : `must be a finite number >= 0 (0 = greedy), got ${String(v)}`)],
  ["topP", (v) => (typeof v === "number" && Number.isFinite(v) && v >= 0 && v <= 1 ? null : `must be in [0, 1] (0 = the run's default), got ${String(v)}`)],
  ["topK", (v) => (Number.isInteger(v) && (v as number) >= 0 ? null : `must be an integer >= 0 (0 = off), got ${String(v)}`)],
  ["maxNewTokens", (v) => (Number.isInteger(v) && (v as number) >= 0 ? null : `must be an integer >= 0 (0 = the run's default), got ${String(v)}`)],
];

export function promptProblem(p: PromptRequest, field: string, limits: PromptLimits, stream: boolean): FieldProblem | null {
  const ids = p.promptIds.byteLength > 0 ? Array.from(int32Of(p.promptIds)) : p.promptText ? limits.encode(p.promptText) : [];
  if (ids.length === 0) return { field, problem: "empty prompt (no promptIds, and promptText is empty or encodes to no tokens)" };
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] < 0 || ids[i] >= limits.vocabSize) return { field: `${field}.promptIds[${i}]`, problem: `${ids[i]} is outside the vocabulary [0, ${limits.vocabSize})` };
  }
  if (!Number.isInteger(p.groupSize) || p.groupSize < 1 || p.groupSize > limits.maxGroupSize) {
    return { field: `${field}.groupSize`, problem: `must be an integer in [1, ${limits.maxGroupSize}] (the run's rollout.groupSize), got ${p.groupSize}` };
  }
  const s = p.sampling;
  // A stream batch is generated in one call with the run's settings: a prompt cannot bring its own.
  if (stream && s) return { field: `${field}.sampling`, problem: "stream prompts are sampled with the run's rollout settings; set sampling only on gRPC Generate" };
  if (s !== undefined && s !== null) {
    if (typeof s !== "object") return { field: `${field}.sampling`, problem: `must be an object, got ${typeof s}` };
    for (const [key, check] of SAMPLING_CHECKS) {
      const problem = check((s as unknown as Record<string, unknown>)[key] ?? 0);
      if (problem) return { field: `${field}.sampling.${key}`, problem };
    }
    // Stop tokens add to the model's (policy.ts): one outside the vocabulary could never be sampled.
    const stops = s.stopTokenIds ?? [];
    const bad = stops.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= limits.vocabSize);
    if (bad >= 0) return { field: `${field}.sampling.stopTokenIds[${bad}]`, problem: `${stops[bad]} is outside the vocabulary [0, ${limits.vocabSize})` };
  }
  const maxNew = s?.maxNewTokens || limits.defaultMaxNewTokens;
  if (ids.length + maxNew > limits.maxPositions) {
    return { field, problem: `${ids.length} prompt tokens + ${maxNew} new tokens exceed the model's context (max_position_embeddings ${limits.maxPositions})` };
  }
  return null;
}

/** One batched call samples with one setting: every prompt of a Generate request must share the first's. */
export function samplingMismatch(prompts: readonly PromptRequest[]): FieldProblem | null {
  const key = (s: SamplingParams | undefined) => JSON.stringify(s ?? null, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
  const first = key(prompts[0]?.sampling);
  for (let i = 1; i < prompts.length; i++) {
    if (key(prompts[i].sampling) !== first) return { field: `prompts[${i}].sampling`, problem: "differs from prompts[0].sampling (one call samples every prompt with one setting)" };
  }
  return null;
}
