// Supervised pretraining of the demo policy on worked solutions of the synthetic task: a fresh model from
// the spec, batches drawn from the TRAIN split's stream (held-out prompts can never appear: the split is a
// hash of the prompt text), the SFT loss, AdamW with warmup + cosine. Returns the trained model, in memory.
import { type HfModel, Trainer, createModelFromSpec, createUnmixedRng, loadTokenizer, parameterCount } from "@lspo/model";
import { syntheticStream } from "@lspo/tasks";
import type { PretrainConfig } from "./config.js";
import { encodeSyntheticExample } from "./format.js";
import { sftBatches, sftLoss } from "./sft-loss.js";

export interface PretrainProgress {
  step: number;
  steps: number;
  /** Mean SFT loss (nats per response token) over the steps since the last report. */
  loss: number;
  lr: number;
  tokensPerSecond: number;
  seconds: number;
}

export interface PretrainOutcome {
  model: HfModel;
  parameters: number;
  /** One point per report: the curve of the mean loss. */
  lossCurve: { step: number; loss: number }[];
  firstLoss: number;
  finalLoss: number;
  /** Distinct training prompts seen (every one in the train split). */
  trainPrompts: Set<string>;
  /** Sequence tokens processed (prompt + response, padding excluded). */
  tokens: number;
  seconds: number;
}

export async function pretrain(cfg: PretrainConfig, onProgress: (p: PretrainProgress) => void = () => {}): Promise<PretrainOutcome> {
  const t0 = performance.now();
  const fresh = createModelFromSpec({ ...cfg.model, seed: cfg.seed }, "pretrain config: model");
  const tok = loadTokenizer(fresh.tokenizerJson, fresh.tokenizerConfigJson);
  const eos = fresh.config.eosTokenIds[0];
  if (eos === undefined) throw new Error("pretrain config: model has no eos_token_id; the policy must learn to stop");
  const padId = fresh.config.padTokenId ?? eos;
  const t = cfg.train;
  const trainer = await Trainer.create(fresh.config, fresh.weights, sftLoss, {
    schedule: { kind: t.schedule, lr: t.lr, warmupSteps: t.warmupSteps, totalSteps: t.steps, minLrRatio: t.minLrRatio },
    adamw: { weightDecay: t.weightDecay },
    maxGradNorm: t.maxGradNorm,
    threads: t.threads || undefined,
  });
  const { answerOnlyFraction, ...task } = cfg.task;
  const stream = syntheticStream("train", task);
  // Its own stream, so the problems drawn are the same whatever the fraction.
  // Unmixed seeding, as when the shipped demo base was trained: `lspo pretrain` still reproduces it.
  const answerOnlyDraw = createUnmixedRng((cfg.seed ^ 0x0a5e_0001) >>> 0);
  const trainPrompts = new Set<string>();
  const lossCurve: PretrainOutcome["lossCurve"] = [];
  let tokens = 0, firstLoss = NaN, lastLoss = NaN;
  let window = { loss: 0, steps: 0, tokens: 0, since: performance.now() };
  try {
    for (let s = 0; s < t.steps; s++) {
      const examples = Array.from({ length: t.batchSize }, () => {
        const p = stream.next().value!;
        trainPrompts.add(p.prompt);
        const bare = answerOnlyFraction > 0 && answerOnlyDraw.float() < answerOnlyFraction;
        return encodeSyntheticExample(tok, eos, p, { answerOnly: bare });
      });
      const r = await trainer.train(sftBatches(examples, { microBatch: t.microBatch, padId }));
      if (s === 0) firstLoss = r.loss;
      lastLoss = r.loss;
      tokens += r.tokens;
      window = { ...window, loss: window.loss + r.loss, steps: window.steps + 1, tokens: window.tokens + r.tokens };
      if ((s + 1) % t.logEvery === 0 || s + 1 === t.steps) {
        const now = performance.now();
        const loss = window.loss / window.steps;
        lossCurve.push({ step: s + 1, loss });
        onProgress({ step: s + 1, steps: t.steps, loss, lr: r.lr, tokensPerSecond: window.tokens / ((now - window.since) / 1000), seconds: (now - t0) / 1000 });
        window = { loss: 0, steps: 0, tokens: 0, since: now };
      }
    }
  } finally {
    await trainer.release();
  }
  return {
    model: { ...fresh, weights: trainer.weights },
    parameters: parameterCount(fresh.config),
    lossCurve, firstLoss, finalLoss: lastLoss, trainPrompts, tokens, seconds: (performance.now() - t0) / 1000,
  };
}
