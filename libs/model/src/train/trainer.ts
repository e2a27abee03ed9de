// One optimisation step over a batch split into micro-batches (so memory bounds the micro-batch, not the
// algorithm's batch): forward + backward per micro-batch, gradients summed, clipped by global norm, AdamW.
// The caller's loss decides normalisation: micro-batch losses, metrics and gradients are SUMMED, so divide by
// a whole-batch count (fed as a loss input) to get a batch mean.
import type { LlamaConfig } from "../config.js";
import type { TokenBatch } from "../llama/batch.js";
import type { LossBuilder } from "../llama/graphs.js";
import type { Provider } from "../runtime/providers.js";
import { GradientSession } from "../runtime/train-session.js";
import type { Weights } from "../tensor.js";
import { ADAMW_DEFAULTS, type AdamWConfig, type AdamWState, adamwStep, checkAdamW, checkState, zeroState } from "./adamw.js";
import { OnnxAdamW } from "./adamw-graph.js";
import { type DeviceMap, DeviceTrainState } from "./device-state.js";
import { clipScale, globalNorm } from "./clip.js";
import { collectGarbage } from "./collect-garbage.js";
import { checkSchedule, learningRate, type ScheduleConfig } from "./schedule.js";

export interface TrainerOptions {
  /** Learning-rate schedule (peak lr, warmup, constant or cosine). */
  schedule: ScheduleConfig;
  /** AdamW hyper-parameters; defaults: beta1 0.9, beta2 0.999, eps 1e-8, weightDecay 0.01 on matrices. */
  adamw?: Partial<AdamWConfig>;
  /** Clip gradients to this global L2 norm; null disables (default 1.0, the usual RL post-training value). */
  maxGradNorm?: number | null;
  /** Where the AdamW update runs: `js` (default: measured faster here, see docs/BENCHMARKS.md) or `onnx`. */
  optimizer?: "js" | "onnx";
  /** Execution provider for the training graph (default cpu). */
  provider?: Provider;
  /** Intra-op threads (default: onnxruntime's choice). */
  threads?: number;
  /** Optimizer state to resume from (from `state()` of an earlier trainer). */
  state?: AdamWState;
  /** Keep parameters, AdamW moments and gradients on the provider's device between steps, with AdamW run there
   *  as the ONNX graph (device-state.ts). Default: true under webgpu, false under cpu. */
  keepOnDevice?: boolean;
  /** Train the given tensors in place instead of a copy of them (the caller hands them over and must not
   *  expect them unchanged): one copy of the model fewer in memory. Default false. */
  adoptWeights?: boolean;
  /** Resume from `state` as given instead of a copy of it (handed over likewise). Default false. */
  adoptState?: boolean;
  /** Recompute each layer's activations in the backward pass instead of keeping them (llama/graphs.ts). */
  recompute?: boolean;
  /** The ONNX AdamW updates groups of at most this many values at a time (default 2^26: adamw-graph.ts). */
  adamwGroupFloats?: number;
  /** onnxruntime's memory pattern for the training graph (default off: SessionOptions.memoryPattern). */
  memoryPattern?: boolean;
}

const OPTION_KEYS = ["schedule", "adamw", "maxGradNorm", "optimizer", "provider", "threads", "state", "keepOnDevice", "adoptWeights", "adoptState", "recompute", "adamwGroupFloats", "memoryPattern"] as const satisfies readonly (keyof TrainerOptions)[];

export class TrainerError extends Error {
  override name = "TrainerError";
}

/** A micro-batch's loss or gradient was NaN or infinite; `microBatch` is its index in the step's list (null
 *  where only the summed gradient was checked, on the device). Parameters are left unchanged. */
export class NonFiniteStepError extends TrainerError {
  override name = "NonFiniteStepError";
  constructor(
    readonly quantity: "loss" | "gradient",
    readonly value: number,
    readonly microBatch: number | null,
  ) {
    super(`train: ${quantity} is ${value}${microBatch === null ? "" : ` in micro-batch ${microBatch}`}; parameters left unchanged`);
  }
}

export interface StepResult {
  /** Updates done after this one (1 after the first step). */
  step: number;
  lr: number;
  /** Sum of the micro-batch losses. */
  loss: number;
  /** Sums of each (scalar) metric over the micro-batches: right only for metrics that are sums. */
  metrics: Record<string, number>;
  /** Each micro-batch's scalar metrics, in order: for means, which must be combined with their weights
   *  (a sum of micro-batch means grows with the number of micro-batches). */
  microBatchMetrics: Record<string, number>[];
  /** Global L2 norm of the summed gradient, before clipping. */
  gradNorm: number;
  /** Factor the gradient was scaled by (1 = not clipped). */
  clipScale: number;
  /** Real tokens (attention mask = 1) processed. */
  tokens: number;
  seconds: { forwardBackward: number; optimizer: number };
}

export class Trainer {
  private constructor(
    readonly config: LlamaConfig,
    /** The live parameters (updated in place by every step). */
    readonly weights: Weights,
    private readonly grad: GradientSession,
    /** With state on the device only `step` is kept here: the moments live in `device` (state() copies them back). */
    private readonly opt: AdamWState,
    private readonly adamw: AdamWConfig,
    private readonly options: TrainerOptions,
    private readonly onnxAdamW: OnnxAdamW | null,
    private readonly device: DeviceTrainState | null,
  ) {}

  /** Copies `weights` (or, with adoptWeights, takes them); the trainer owns what it trains. */
  static async create(config: LlamaConfig, weights: Weights, loss: LossBuilder, options: TrainerOptions): Promise<Trainer> {
    const unknown = Object.keys(options).filter((k) => !(OPTION_KEYS as readonly string[]).includes(k));
    if (unknown.length) throw new TrainerError(`unknown trainer option(s) ${unknown.join(", ")}; valid: ${OPTION_KEYS.join(", ")}`);
    if (!options.schedule) throw new TrainerError("trainer option 'schedule' is required");
    checkSchedule(options.schedule);
    const adamw = { ...ADAMW_DEFAULTS, ...options.adamw };
    checkAdamW(adamw);
    const maxNorm = options.maxGradNorm === undefined ? 1 : options.maxGradNorm;
    if (maxNorm !== null && !(maxNorm > 0)) throw new TrainerError(`maxGradNorm must be > 0 or null, got ${maxNorm}`);
    const onDevice = options.keepOnDevice ?? options.provider === "webgpu";
    const optimizer = options.optimizer ?? (onDevice ? "onnx" : "js");
    if (optimizer !== "js" && optimizer !== "onnx") throw new TrainerError(`optimizer must be 'js' or 'onnx', got '${optimizer as string}'`);
    if (onDevice && optimizer !== "onnx") throw new TrainerError("keepOnDevice runs AdamW on the device: it needs optimizer 'onnx', not 'js'");
    const own: Weights = options.adoptWeights ? weights : new Map([...weights].map(([k, t]) => [k, { dtype: "float32", shape: [...t.shape], data: Float32Array.from(t.data) }]));
    const state = options.state ? (options.adoptState ? options.state : copyState(options.state)) : zeroState(own);
    checkState(state, own);
    const session = { provider: options.provider, threads: options.threads };
    const grad = await GradientSession.create(config, loss, { ...session, gradsOnDevice: onDevice, recompute: options.recompute, memoryPattern: options.memoryPattern });
    const device = onDevice ? await DeviceTrainState.create(own, state, adamw, session, options.adamwGroupFloats) : null;
    const onnx = optimizer === "onnx" && !onDevice ? await OnnxAdamW.create(own, adamw, { ...session, groupFloats: options.adamwGroupFloats }) : null;
    // Once uploaded, the host moments would only go stale (and hold twice the parameters' memory).
    const opt = device ? { step: state.step, m: new Map(), v: new Map() } : state;
    return new Trainer(config, own, grad, opt, adamw, { ...options, maxGradNorm: maxNorm }, onnx, device);
  }

  /** Whether parameters, moments and gradients stay on the provider's device between steps. */
  get keepsStateOnDevice(): boolean {
    return this.device !== null;
  }

  /** Updates done so far. */
  get step(): number {
    return this.opt.step;
  }

  /** One optimisation step over `microBatches` (their gradients are summed). */
  async train(microBatches: readonly TokenBatch[]): Promise<StepResult> {
    if (microBatches.length === 0) throw new TrainerError("train: no micro-batches");
    if (this.device) return this.trainOnDevice(this.device, microBatches);
    const t0 = performance.now();
    const acc = new Map<string, Float32Array>();
    const sums = newSums();
    for (const [k, mb] of microBatches.entries()) {
      // The last step's or micro-batch's gradients (garbage once summed), freed before the next arrive.
      collectGarbage();
      const r = await this.grad.run(this.weights, mb);
      if (!Number.isFinite(r.loss)) throw new NonFiniteStepError("loss", r.loss, k);
      addMicroBatch(sums, r, mb);
      for (const [name, g] of r.grads) {
        const d = g.data as Float32Array;
        const bad = firstNonFinite(d);
        if (bad !== null) throw new NonFiniteStepError("gradient", bad, k);
        const a = acc.get(name);
        if (!a) acc.set(name, d);
        else for (let i = 0; i < a.length; i++) a[i] += d[i];
      }
    }
    const { loss, tokens, metrics, microBatchMetrics } = sums;
    if (!Number.isFinite(loss)) throw new NonFiniteStepError("loss", loss, null);
    const t1 = performance.now();
    const gradNorm = globalNorm(acc.values());
    if (!Number.isFinite(gradNorm)) throw new NonFiniteStepError("gradient", gradNorm, null);
    const scale = clipScale(gradNorm, this.options.maxGradNorm ?? null);
    const lr = learningRate(this.options.schedule, this.opt.step);
    if (this.onnxAdamW) await this.onnxAdamW.step(this.weights, acc, this.opt, lr, scale);
    else adamwStep(this.weights, acc, this.opt, this.adamw, lr, scale);
    const t2 = performance.now();
    return { step: this.opt.step, lr, loss, metrics, microBatchMetrics, gradNorm, clipScale: scale, tokens, seconds: { forwardBackward: (t1 - t0) / 1000, optimizer: (t2 - t1) / 1000 } };
  }

  /** The same step with state on the device: gradients summed, normed and applied there (device-state.ts). */
  private async trainOnDevice(device: DeviceTrainState, microBatches: readonly TokenBatch[]): Promise<StepResult> {
    const t0 = performance.now();
    let acc: DeviceMap | null = null;
    const sums = newSums();
    try {
      for (const [k, mb] of microBatches.entries()) {
        const r = await this.grad.runOnDevice(device.params(), mb);
        if (!Number.isFinite(r.loss)) throw new NonFiniteStepError("loss", r.loss, k);
        addMicroBatch(sums, r, mb);
        acc = acc ? await device.accumulate(acc, r.grads as DeviceMap) : (r.grads as DeviceMap);
      }
      const { loss, tokens, metrics, microBatchMetrics } = sums;
      if (!Number.isFinite(loss)) throw new NonFiniteStepError("loss", loss, null);
      const t1 = performance.now();
      const gradNorm = Math.sqrt(await device.sumOfSquares(acc!));
      if (!Number.isFinite(gradNorm)) throw new NonFiniteStepError("gradient", gradNorm, null);
      const scale = clipScale(gradNorm, this.options.maxGradNorm ?? null);
      const lr = learningRate(this.options.schedule, this.opt.step);
      await device.step(acc!, this.opt, lr, scale, this.weights);
      const t2 = performance.now();
      return { step: this.opt.step, lr, loss, metrics, microBatchMetrics, gradNorm, clipScale: scale, tokens, seconds: { forwardBackward: (t1 - t0) / 1000, optimizer: (t2 - t1) / 1000 } };
    } finally {
      if (acc) for (const g of acc.values()) g.dispose();
    }
  }

  /** Optimizer state as plain data (a copy), for checkpoints; pass it back as `options.state` to resume.
   *  With state on the device, the moments are copied back from it here. */
  async state(): Promise<AdamWState> {
    if (this.device) return { step: this.opt.step, ...(await this.device.moments()) };
    return copyState(this.opt);
  }

  /**
   * The optimizer state to read right now without a copy (a checkpoint written before the next step): the live
   * moments on the host; on the device path, what state() downloads. The caller must not keep or change it.
   */
  async stateView(): Promise<AdamWState> {
    return this.device ? this.state() : this.opt;
  }

  async release(): Promise<void> {
    await this.grad.release();
    await this.onnxAdamW?.release();
    await this.device?.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}

/** What a step sums over its micro-batches besides gradients: loss, real tokens and scalar metrics. */
interface StepSums {
  loss: number;
  tokens: number;
  metrics: Record<string, number>;
  microBatchMetrics: Record<string, number>[];
}

const newSums = (): StepSums => ({ loss: 0, tokens: 0, metrics: {}, microBatchMetrics: [] });

function addMicroBatch(sums: StepSums, r: { loss: number; metrics: Record<string, { shape: number[]; data: ArrayLike<number | bigint> }> }, mb: TokenBatch): void {
  sums.loss += r.loss;
  for (const v of mb.attentionMask.data) sums.tokens += Number(v);
  const own: Record<string, number> = {};
  for (const [k, m] of Object.entries(r.metrics)) {
    if (m.data.length !== 1) throw new TrainerError(`metric '${k}' has shape [${m.shape}]; the trainer sums scalar metrics only`);
    own[k] = Number(m.data[0]);
    sums.metrics[k] = (sums.metrics[k] ?? 0) + own[k];
  }
  sums.microBatchMetrics.push(own);
}

/** The first NaN or infinity in `d`, or null (x - x is 0 exactly for every finite x). */
function firstNonFinite(d: ArrayLike<number>): number | null {
  for (let i = 0; i < d.length; i++) if (d[i] - d[i] !== 0) return d[i];
  return null;
}

function copyState(s: AdamWState): AdamWState {
  const copy = (w: Weights): Weights => new Map([...w].map(([k, t]) => [k, { dtype: "float32", shape: [...t.shape], data: Float32Array.from(t.data) }]));
  return { step: s.step, m: copy(s.m), v: copy(s.v) };
}
