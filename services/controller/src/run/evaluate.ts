// Held-out evaluation through the running system: greedy generation on a rollout actor (gRPC Generate,
// the same policy version the actors hold), scored with the task's verifier. Accuracy as a fraction.
import type { ActorHandle } from "@lspo/actors";
import type { RolloutServiceService } from "@lspo/proto";
import { int32Of } from "@lspo/bus";
import { isCorrect } from "@lspo/tasks";
import type { PromptSource } from "./prompt-source.js";

export interface EvalResult {
  accuracy: number;
  correct: number;
  total: number;
  policyVersion: number;
  meanLength: number;
  seconds: number;
}

export async function evaluateHeldOut(
  rollout: ActorHandle<typeof RolloutServiceService>,
  source: PromptSource,
  maxNewTokens: number,
  chunk = 16,
): Promise<EvalResult> {
  const t0 = performance.now();
  let correct = 0;
  let tokens = 0;
  let version = -1;
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
            groupSize: 1, sampling: { temperature: 0, topP: 1, topK: 0, maxNewTokens, seed: 0n, stopTokenIds: [] }, cursor: 0n,
          })),
        },
        { deadlineMs: 300_000 },
      ),
    ),
  );
  results.forEach((res, c) =>
    res.groups.forEach((g, i) => {
      const r = g.responses[0];
      if (isCorrect(r.text, chunks[c][i].answer)) correct++;
      tokens += int32Of(r.tokenIds).length;
      version = Math.max(version, Number(g.policyVersion));
    }),
  );
  return {
    accuracy: items.length ? correct / items.length : 0,
    correct,
    total: items.length,
    policyVersion: version,
    meanLength: items.length ? tokens / items.length : 0,
    seconds: (performance.now() - t0) / 1000,
  };
}
