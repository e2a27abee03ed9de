// Supervised fine-tuning on worked solutions: the mean negative log-likelihood of the RESPONSE tokens only
// (prompt tokens are context, not targets), built on libs/model's training graph:
//
//   loss = -sum_{b,t} logp[b,t] * loss_mask[b,t] / token_count
//
// logp[b,t] = log p(targets[b,t]) (the token at t+1). token_count is the number of response tokens in the
// WHOLE batch, so the summed micro-batch losses (the Trainer sums them) are the batch mean.
import { type LossBuilder, type TokenBatch, makeTokenBatch, ops } from "@lspo/model";

export const SFT_INPUTS = { mask: "loss_mask", count: "token_count" } as const;

/** One training sequence: the prompt's ids, then the target response's ids (stop token included). */
export interface SftExample {
  prompt: readonly number[];
  response: readonly number[];
}

export class SftBatchError extends Error {
  override name = "SftBatchError";
}

export const sftLoss: LossBuilder = (ctx) => {
  const mask = ctx.input(SFT_INPUTS.mask, "float32", [ctx.dims.B, ctx.dims.T]); // [B, T] 1 = predicts a response token
  const count = ctx.input(SFT_INPUTS.count, "float32", []); // response tokens in the whole batch
  const nll = ops.neg(ops.sumAll(ops.mul(ctx.logprobs, mask))); // []
  return { loss: ops.div(nll, count) };
};

/**
 * Packs examples into right-padded micro-batches of at most `microBatch` sequences (0 = one batch) with the
 * loss mask and the whole-batch token count. Response token j of a sequence whose prompt has p tokens sits
 * at index p + j and is predicted at position p + j - 1, so those positions get mask 1.
 */
export function sftBatches(examples: readonly SftExample[], o: { microBatch?: number; padId?: number } = {}): TokenBatch[] {
  if (examples.length === 0) throw new SftBatchError("sftBatches: no examples");
  examples.forEach((e, i) => {
    if (e.prompt.length === 0) throw new SftBatchError(`sftBatches: example ${i} has an empty prompt (its first response token would have no position predicting it)`);
    if (e.response.length === 0) throw new SftBatchError(`sftBatches: example ${i} has an empty response (nothing to learn)`);
  });
  const size = o.microBatch && o.microBatch > 0 ? o.microBatch : examples.length;
  const total = examples.reduce((n, e) => n + e.response.length, 0);
  const batches: TokenBatch[] = [];
  for (let start = 0; start < examples.length; start += size) {
    const part = examples.slice(start, start + size);
    const batch = makeTokenBatch(part.map((e) => [...e.prompt, ...e.response]), { padId: o.padId ?? 0, padSide: "right" });
    const [B, T] = batch.inputIds.shape;
    const mask = new Float32Array(B * T); // [B, T]
    part.forEach((e, b) => mask.fill(1, b * T + e.prompt.length - 1, b * T + e.prompt.length - 1 + e.response.length));
    batch.extras = {
      [SFT_INPUTS.mask]: { dtype: "float32", shape: [B, T], data: mask },
      [SFT_INPUTS.count]: { dtype: "float32", shape: [], data: new Float32Array([total]) },
    };
    batches.push(batch);
  }
  return batches;
}
