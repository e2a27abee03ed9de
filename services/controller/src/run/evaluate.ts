// Held-out evaluation through the running system: greedy generation on a rollout actor (gRPC Generate,
// the same policy version the actors hold), scored with the task's verifier. Accuracy as a fraction.
// Optionally also the sampled accuracy: `samples` responses per prompt at the rollout temperature with a
// fixed seed, so evaluations at different steps draw the same random streams (a paired comparison).
import type { ActorHandle } from "@lspo/actors";
import type { RolloutServiceService } from "@lspo/proto";
import { int32Of } from "@lspo/bus";
import { isCorrect } from "@lspo/tasks";
import type { PromptSource } from "./prompt-source.js";

export interface EvalResult {
  /** Greedy accuracy. */
  accuracy: number;
  /** Fraction of sampled responses that are correct; null when not asked for (eval.samples 0). */
  sampledAccuracy: number | null;
  correct: number;
  total: number;
  policyVersion: number;
  meanLength: number;
  seconds: number;
}

export interface EvalOptions {
  maxNewTokens: number;
  /** Sampled responses per prompt for the sampled accuracy (0 = greedy only), at `temperature`. */
  samples?: number;
  temperature?: number;
  chunk?: number;
}

type Generated = Awaited<ReturnType<ActorHandle<typeof RolloutServiceService>["call"]["generate"]>>["groups"][number];

/** Every held-out prompt through Generate, in chunks spread over the rollout actors; groups in prompt order. */
async function generateAll(
  rollout: ActorHandle<typeof RolloutServiceService>,
  source: PromptSource,
  sampling: { temperature: number; maxNewTokens: number; groupSize: number; seed: bigint },
  chunk: number,
): Promise<Generated[]> {
  const items = source.heldOut;
  const chunks: Array<typeof items> = [];
  for (let i = 0; i < items.length; i += chunk) chunks.push(items.slice(i, i + chunk));
  // Chunks go to the rollout group in parallel (load-balanced across actors).
  const results = await Promise.all(
    chunks.map((part, c) =>
      rollout.call.generate(
        {
          prompts: part.map((ex, i) => ({
            uid: `eval-${c}-${i}`, runId: "eval", task: "eval", promptText: source.render(ex), promptIds: Buffer.alloc(0), answer: ex.answer,
            groupSize: sampling.groupSize,
            sampling: { temperature: sampling.temperature, topP: 1, topK: 0, maxNewTokens: sampling.maxNewTokens, seed: sampling.seed, stopTokenIds: [] },
            cursor: 0n,
          })),
        },
        { deadlineMs: 300_000 },
      ),
    ),
  );
  return results.flatMap((r) => r.groups);
}

export async function evaluateHeldOut(rollout: ActorHandle<typeof RolloutServiceService>, source: PromptSource, o: EvalOptions): Promise<EvalResult> {
  const t0 = performance.now();
  const chunk = o.chunk ?? 16;
  const items = source.heldOut;
  let correct = 0;
  let tokens = 0;
  let version = -1;
  const greedy = await generateAll(rollout, source, { temperature: 0, maxNewTokens: o.maxNewTokens, groupSize: 1, seed: 0n }, chunk);
  greedy.forEach((g, i) => {
    const r = g.responses[0];
    if (isCorrect(r.text, items[i].answer)) correct++;
    tokens += int32Of(r.tokenIds).length;
    version = Math.max(version, Number(g.policyVersion));
  });
  let sampledAccuracy: number | null = null;
  const n = o.samples ?? 0;
  if (n > 0 && items.length > 0) {
    if (!(o.temperature !== undefined && o.temperature > 0)) throw new RangeError(`sampled evaluation needs a temperature > 0, got ${o.temperature}`);
    // A fixed seed: the rollout derives each call's streams from it and the prompts' uids, the same at every evaluation.
    const sampled = await generateAll(rollout, source, { temperature: o.temperature, maxNewTokens: o.maxNewTokens, groupSize: n, seed: 20_251_001n }, chunk);
    let right = 0;
    sampled.forEach((g, i) => g.responses.forEach((r) => void (isCorrect(r.text, items[i].answer) && right++)));
    sampledAccuracy = right / (items.length * n);
  }
  return {
    accuracy: items.length ? correct / items.length : 0,
    sampledAccuracy,
    correct,
    total: items.length,
    policyVersion: version,
    meanLength: items.length ? tokens / items.length : 0,
    seconds: (performance.now() - t0) / 1000,
  };
}
