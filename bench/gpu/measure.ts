// The measurements themselves, each for one provider: does it start (probe), do its outputs match the CPU
// provider's (parity), decode tokens/s, learner tokens/s. Everything goes through @lspo/model's public API.
import {
  ForwardSession, Graph, GradientSession, type LlamaConfig, type LossBuilder, OnnxDecoder, OrtSession, type Tensor,
  type TokenBatch, Trainer, type Weights, argmax, encodeModel, generate, makeTokenBatch, ops,
} from "@lspo/model";
import { summarize, type Summary } from "../lib/stats.js";
import type { ProviderName } from "./plan.js";

export interface SessionSettings {
  provider: ProviderName;
  /** Only the CPU provider takes a thread count; 0 leaves it to onnxruntime. */
  threads?: number;
}

const session = (s: SessionSettings) => ({ provider: s.provider, ...(s.provider === "cpu" && s.threads ? { threads: s.threads } : {}) });

/** Deterministic token ids in [2, vocab): an LCG, so every provider sees the same batch. */
export function tokens(n: number, vocab: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => 2 + ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) % (vocab - 2)));
}

/** Token-mean NLL over the real targets: the loss bench/model.ts and bench/model_torch.py time. */
export const nll: LossBuilder = (ctx) => {
  const lm = ctx.input("loss_mask", "float32", ["B", "T"]);
  const n = ctx.input("count", "float32", []);
  return { loss: ops.neg(ops.div(ops.sumAll(ops.mul(ctx.logprobs, lm)), n)) };
};

/** A batch of `batch` sequences of up to `seq` tokens; with `ragged`, row b is b tokens shorter (left padding). */
export function lossBatch(cfg: LlamaConfig, batch: number, seq: number, ragged: boolean): TokenBatch {
  const seqs = Array.from({ length: batch }, (_, b) => tokens(ragged ? seq - b : seq, cfg.vocabSize, 1000 + b));
  const tb = makeTokenBatch(seqs, { padSide: "left" });
  const [B, T] = tb.inputIds.shape;
  const lm = new Float32Array(B * T);
  for (let i = 0; i < B * T; i++) lm[i] = tb.attentionMask.data[i] === 1n && i % T < T - 1 ? 1 : 0; // last position has no target
  const count = lm.reduce((a, x) => a + x, 0);
  tb.extras = {
    loss_mask: { dtype: "float32", shape: [B, T], data: lm },
    count: { dtype: "float32", shape: [], data: Float32Array.of(count) },
  };
  return tb;
}

/** Starts the provider on a tiny graph (x @ w, 64x64) and checks its answer against plain JS. */
export async function probe(s: SessionSettings): Promise<{ seconds: number; maxAbsDiff: number }> {
  const t0 = performance.now();
  const g = new Graph("probe");
  const x = g.input("x", "float32", [64, 64]);
  const w = g.input("w", "float32", [64, 64]);
  g.output("y", ops.matmul(x, w));
  const xs = Float32Array.from({ length: 4096 }, (_, i) => ((i * 7) % 13) / 13 - 0.5);
  const ws = Float32Array.from({ length: 4096 }, (_, i) => ((i * 5) % 11) / 11 - 0.5);
  const sess = await OrtSession.create(encodeModel(g), session(s));
  try {
    const y = (await sess.run({ x: { dtype: "float32", shape: [64, 64], data: xs }, w: { dtype: "float32", shape: [64, 64], data: ws } })).y.data as Float32Array;
    let diff = 0;
    for (let i = 0; i < 64; i++) {
      for (let j = 0; j < 64; j++) {
        let acc = 0;
        for (let k = 0; k < 64; k++) acc += xs[i * 64 + k] * ws[k * 64 + j];
        diff = Math.max(diff, Math.abs(acc - y[i * 64 + j]));
      }
    }
    return { seconds: (performance.now() - t0) / 1000, maxAbsDiff: diff };
  } finally {
    await sess.release();
  }
}

export interface Diff {
  maxAbsDiff: number;
  /** max |reference|: the scale the difference is judged against. */
  maxAbsRef: number;
  /** maxAbsDiff / maxAbsRef. */
  relative: number;
}

export function diff(ref: ArrayLike<number>, got: ArrayLike<number>, what: string): Diff {
  if (ref.length !== got.length) throw new Error(`${what}: ${got.length} values vs ${ref.length} from cpu`);
  let d = 0;
  let m = 0;
  for (let i = 0; i < ref.length; i++) {
    const e = Math.abs(ref[i] - got[i]);
    d = Number.isNaN(e) ? Infinity : Math.max(d, e);
    m = Math.max(m, Math.abs(ref[i]));
  }
  return { maxAbsDiff: d, maxAbsRef: m, relative: m > 0 ? d / m : d };
}

/** The outputs parity compares, as produced by one provider. */
export interface ParityOutputs {
  logits: Float32Array;
  prefillLogits: Float32Array;
  loss: number;
  grads: Map<string, Float32Array>;
}

export async function parityOutputs(cfg: LlamaConfig, w: Weights, batch: TokenBatch, s: SessionSettings): Promise<ParityOutputs> {
  const fwd = await ForwardSession.create(cfg, session(s));
  const logits = Float32Array.from((await fwd.logits(w, batch)).data as Float32Array); // [B, T, V]
  await fwd.release();
  const dec = await OnnxDecoder.create(cfg, w, session(s));
  const B = batch.inputIds.shape[0];
  const empty = (): Tensor<"float32"> => ({ dtype: "float32", shape: [0, B, cfg.numKvHeads, cfg.headDim], data: new Float32Array(0) });
  const step = await dec.step({
    inputIds: batch.inputIds, positionIds: batch.positionIds, attentionMask: batch.attentionMask,
    pastKeys: Array.from({ length: cfg.numLayers }, empty), pastValues: Array.from({ length: cfg.numLayers }, empty),
  });
  const prefillLogits = Float32Array.from(step.logits.data); // [B, V] at the last position
  await dec.release();
  const gs = await GradientSession.create(cfg, nll, session(s));
  const r = await gs.run(w, batch);
  await gs.release();
  const grads = new Map([...r.grads].map(([k, t]) => [k, Float32Array.from(t.data as Float32Array)]));
  return { logits, prefillLogits, loss: r.loss, grads };
}

/** Float32 tolerance for outputs of different kernels: 1e-3 of the tensor's scale. */
export const PARITY_RTOL = 1e-3;

export function compareParity(ref: ParityOutputs, got: ParityOutputs) {
  const logits = diff(ref.logits, got.logits, "logits");
  const prefill = diff(ref.prefillLogits, got.prefillLogits, "prefill logits");
  let worst: Diff & { param: string } = { param: "", maxAbsDiff: 0, maxAbsRef: 0, relative: 0 };
  for (const [name, g] of ref.grads) {
    const other = got.grads.get(name);
    if (!other) throw new Error(`gradient '${name}' missing from the provider's outputs`);
    const d = diff(g, other, `grad ${name}`);
    if (d.relative > worst.relative || !worst.param) worst = { param: name, ...d };
  }
  const loss = { cpu: ref.loss, provider: got.loss, absDiff: Math.abs(ref.loss - got.loss) };
  const pass = [logits, prefill, worst].every((d) => d.relative <= PARITY_RTOL) && loss.absDiff <= PARITY_RTOL * Math.max(1, Math.abs(ref.loss));
  return { logits, prefillLogits: prefill, worstGradient: worst, loss, tolerance: { relative: PARITY_RTOL }, pass };
}

/**
 * Decode parity with state on the device: the provider's decoder (weights and KV cache kept on its device under
 * webgpu) against the CPU decoder with its host cache, prefill then `steps` steps teacher-forced with the CPU's
 * greedy tokens, so both see the same inputs all the way; the worst logits gap over every step.
 */
export async function decodeParity(cfg: LlamaConfig, w: Weights, batch: TokenBatch, s: SessionSettings, steps: number) {
  const run = async (dec: OnnxDecoder, forced: number[][] | null) => {
    const out: Float32Array[] = [];
    const [B, T] = batch.inputIds.shape;
    const cache = dec.openCache(B);
    const keys: Tensor<"float32">[][] = [];
    const values: Tensor<"float32">[][] = [];
    const chosen: number[][] = [];
    let mask = batch.attentionMask.data;
    let pos = Array.from({ length: B }, (_, b) => Number(batch.positionIds.data[b * T + T - 1]) + 1);
    let step = await dec.step({ inputIds: batch.inputIds, positionIds: batch.positionIds, attentionMask: batch.attentionMask, ...past(cache?.past() ?? null, keys, values, B, cfg) });
    for (let k = 0; ; k++) {
      out.push(Float32Array.from(step.logits.data));
      if (cache) cache.append(step);
      else { keys.push(step.newKeys); values.push(step.newValues); }
      if (k === steps) break;
      const V = cfg.vocabSize;
      const next = forced ? forced[k] : Array.from({ length: B }, (_, b) => argmax(step.logits.data.subarray(b * V, (b + 1) * V)));
      chosen.push(next);
      const S = mask.length / B + 1;
      const m = new BigInt64Array(B * S);
      for (let b = 0; b < B; b++) { m.set(mask.subarray(b * (S - 1), (b + 1) * (S - 1)), b * S); m[b * S + S - 1] = 1n; }
      mask = m;
      step = await dec.step({
        inputIds: { dtype: "int64", shape: [B, 1], data: BigInt64Array.from(next, BigInt) },
        positionIds: { dtype: "int64", shape: [B, 1], data: BigInt64Array.from(pos, BigInt) },
        attentionMask: { dtype: "int64", shape: [B, S], data: m },
        ...past(cache?.past() ?? null, keys, values, B, cfg),
      });
      pos = pos.map((p) => p + 1);
    }
    cache?.release();
    return { logits: out, chosen };
  };
  // The reference is the decomposed graph on host time-major state (kvCache "concat"), the path every other
  // decoder is held to; the host default, the in-place slot cache, takes a step of another shape.
  const ref = await OnnxDecoder.create(cfg, w, { provider: "cpu", keepOnDevice: false, kvCache: "concat" });
  const want = await run(ref, null);
  await ref.release();
  // State on the device whatever the provider (under cpu the same code path, host memory).
  const dec = await OnnxDecoder.create(cfg, w, { ...session(s), keepOnDevice: true });
  const got = await run(dec, want.chosen);
  const onDevice = dec.keepsStateOnDevice;
  await dec.release();
  // The step that differs most (the first on ties), with its own scale: identical logits report step 0's.
  let worst = { step: 0, ...diff(want.logits[0], got.logits[0], "decode step 0 logits") };
  for (let k = 1; k < want.logits.length; k++) {
    const d = diff(want.logits[k], got.logits[k], `decode step ${k} logits`);
    if (d.relative > worst.relative) worst = { step: k, ...d };
  }
  return { steps, stateOnDevice: onDevice, worst, pass: worst.relative <= PARITY_RTOL };
}

/** Past K/V for a step: the device cache's, or the host slices so far joined time-major. */
function past(device: { keys: unknown[]; values: unknown[] } | null, keys: Tensor<"float32">[][], values: Tensor<"float32">[][], B: number, cfg: LlamaConfig) {
  if (device) return { pastKeys: device.keys, pastValues: device.values } as Pick<Parameters<OnnxDecoder["step"]>[0], "pastKeys" | "pastValues">;
  const join = (slices: Tensor<"float32">[][], l: number): Tensor<"float32"> => {
    const parts = slices.map((s) => s[l]);
    const P = parts.reduce((n, t) => n + t.shape[0], 0);
    const data = new Float32Array(P * B * cfg.numKvHeads * cfg.headDim);
    let at = 0;
    for (const t of parts) { data.set(t.data, at); at += t.data.length; }
    return { dtype: "float32", shape: [P, B, cfg.numKvHeads, cfg.headDim], data };
  };
  return { pastKeys: Array.from({ length: cfg.numLayers }, (_, l) => join(keys, l)), pastValues: Array.from({ length: cfg.numLayers }, (_, l) => join(values, l)) };
}

/**
 * Decode tokens/s through the generation loop the rollout actor runs (generate(), greedy, no stop token):
 * generating 1 + steps tokens minus generating 1 (the prefill and first token) leaves `steps` decode steps.
 */
export async function generateRate(dec: OnnxDecoder, cfg: LlamaConfig, B: number, prompt: number, steps: number) {
  const ids = tokens(B * prompt, cfg.vocabSize, 7);
  const prompts = Array.from({ length: B }, (_, b) => ids.slice(b * prompt, (b + 1) * prompt));
  const time = async (n: number) => {
    const t0 = performance.now();
    await generate(dec, prompts, { maxNewTokens: n, stopTokenIds: [] });
    return (performance.now() - t0) / 1000;
  };
  await time(2); // warm-up: first runs allocate
  const first = await time(1);
  const all = await time(1 + steps);
  const decodeSeconds = Math.max(1e-9, all - first);
  return { tokensPerSecond: (B * steps) / decodeSeconds, stepSeconds: decodeSeconds / steps, prefillSeconds: first, stateOnDevice: dec.keepsStateOnDevice };
}

/** Learner tokens/s (the Trainer copies `w`, so every provider starts from the same weights): one Trainer step (forward + backward + clipping + AdamW), warm-up first, median of `steps`. */
export async function trainRate(cfg: LlamaConfig, w: Weights, plan: { batch: number; seq: number; steps: number }, s: SessionSettings, keepOnDevice = false) {
  const batch = lossBatch(cfg, plan.batch, plan.seq, false);
  const t = await Trainer.create(cfg, w, nll, { schedule: { kind: "constant", lr: 1e-4, warmupSteps: 0 }, ...session(s), keepOnDevice, ...(keepOnDevice ? {} : { optimizer: "js" as const }) });
  try {
    const w0 = performance.now();
    await t.train([batch]);
    const warmupSeconds = (performance.now() - w0) / 1000;
    const total: number[] = [];
    const fb: number[] = [];
    const opt: number[] = [];
    for (let i = 0; i < plan.steps; i++) {
      const t0 = performance.now();
      const r = await t.train([batch]);
      total.push((performance.now() - t0) / 1000);
      fb.push(r.seconds.forwardBackward);
      opt.push(r.seconds.optimizer);
    }
    const step = summarize(total);
    return { stateOnDevice: t.keepsStateOnDevice, tokensPerSecond: (plan.batch * plan.seq) / step.median, stepSeconds: step, forwardBackwardSeconds: summarize(fb), adamwSeconds: summarize(opt), warmupSeconds };
  } finally {
    await t.release();
  }
}
