// The learner's state and its one operation, `update(groups)`: the trainer loop as ALGORITHMS.md reads it —
// spec for this step (hot swap lands here, never mid-update) -> rows -> old log-probs (recomputed) ->
// reference log-probs (when KL is on) -> forward+backward (micro-batches) -> clip -> AdamW. No NATS, no
// files: main.ts wires it to the streams and checkpoints.
import { AlgorithmState, trainingLossBuilder, type AlgorithmSpec, type AlgorithmStateSnapshot, type SwapEvent } from "@lspo/algos";
import {
  ForwardSession, Trainer, type AdamWState, type LlamaConfig, type Provider, type StepResult, type Tensor, type TokenBatch, type Weights,
} from "@lspo/model";
import type { RunConfig } from "@lspo/config";
import type { VerifiedGroup } from "@lspo/proto";
import { buildTrainingRows } from "./batch-tensors.js";

export interface LearnerOptions {
  learner: RunConfig["learner"];
  totalSteps: number;
  /** The rollout's max new tokens: L_max for DAPO's overlong shaping and C for Dr. GRPO, unless a spec sets them. */
  maxResponseLength: number;
  device: Provider;
  threads: number;
  padId: number;
  /** The run's rollout.temperature: the temperature of a group whose prompt does not record its sampling. */
  rolloutTemperature?: number;
}

export interface UpdateRecord {
  step: number;
  algorithm: string;
  loss: number;
  metrics: Record<string, number>;
  lr: number;
  gradNorm: number;
  clipScale: number;
  groups: number;
  responses: number;
  responseTokens: number;
  tokens: number;
  meanReward: number;
  meanLength: number;
  seconds: number;
  swap: SwapEvent | null;
}

/** Run-level defaults every spec gets unless it sets them (a swap brings the new preset, not these). */
function withRunDefaults(spec: { name: string; params?: Record<string, unknown> }, maxLen: number) {
  const params = { ...(spec.params ?? {}) };
  if (params.max_response_length === undefined) params.max_response_length = maxLen;
  if (params.overlong_buffer === undefined) params.overlong_buffer = Math.max(1, Math.floor(maxLen / 4));
  return { name: spec.name, params };
}

function sliceRows(batch: TokenBatch, from: number, to: number): TokenBatch {
  const T = batch.inputIds.shape[1];
  const rows = <D extends Tensor["dtype"]>(t: Tensor<D>): Tensor<D> => {
    const perRow = t.shape.length === 1 ? 1 : T;
    return { dtype: t.dtype, shape: [to - from, ...t.shape.slice(1)], data: t.data.slice(from * perRow, to * perRow) as Tensor<D>["data"] };
  };
  const extras: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(batch.extras ?? {})) extras[k] = rows(v);
  return {
    inputIds: rows(batch.inputIds), targets: rows(batch.targets), positionIds: rows(batch.positionIds), attentionMask: rows(batch.attentionMask), extras,
    ...(batch.temperature ? { temperature: batch.temperature.slice(from, to) } : {}),
  };
}

export class LearnerCore {
  private trainer: Trainer;
  private trainerSpec: string;
  private forward: ForwardSession | null = null;
  /** Between beginUpdate and the end of that update: a swap requested now lands one step later. */
  private updating = false;

  private constructor(
    readonly config: LlamaConfig,
    private readonly opts: LearnerOptions,
    readonly algorithm: AlgorithmState,
    trainer: Trainer,
    private readonly reference: Weights,
  ) {
    this.trainer = trainer;
    this.trainerSpec = JSON.stringify(algorithm.active);
  }

  static async create(
    config: LlamaConfig,
    weights: Weights,
    opts: LearnerOptions,
    resume?: { optimizer: AdamWState; algorithm: AlgorithmStateSnapshot; reference?: Weights },
  ): Promise<LearnerCore> {
    const algorithm = resume
      ? AlgorithmState.restore(resume.algorithm)
      : new AlgorithmState(withRunDefaults({ name: opts.learner.algorithm.name, params: opts.learner.algorithm.overrides }, opts.maxResponseLength));
    const trainer = await LearnerCore.makeTrainer(config, weights, algorithm.active, opts, resume?.optimizer);
    const reference: Weights = resume?.reference ?? new Map([...weights].map(([k, t]) => [k, { ...t, data: Float32Array.from(t.data) }]));
    return new LearnerCore(config, opts, algorithm, trainer, reference);
  }

  private static makeTrainer(config: LlamaConfig, weights: Weights, spec: AlgorithmSpec, o: LearnerOptions, state?: AdamWState): Promise<Trainer> {
    return Trainer.create(config, weights, trainingLossBuilder(spec.params) as never, {
      schedule: { kind: o.learner.schedule, lr: o.learner.lr, warmupSteps: o.learner.warmupSteps, ...(o.learner.schedule === "cosine" ? { totalSteps: o.totalSteps } : {}) },
      adamw: { weightDecay: o.learner.weightDecay },
      maxGradNorm: o.learner.maxGradNorm,
      provider: o.device,
      threads: o.threads,
      ...(state ? { state } : {}),
    });
  }

  get step(): number {
    return this.trainer.step;
  }

  /** Parameters, AdamW moments and gradients kept on the device between steps (the default under webgpu). */
  get stateOnDevice(): boolean {
    return this.trainer.keepsStateOnDevice;
  }

  get weights(): Weights {
    return this.trainer.weights;
  }

  /** A copy of the AdamW state (copied back from the device when the trainer keeps it there). */
  optimizerState(): Promise<AdamWState> {
    return this.trainer.state();
  }

  /** Validates now (throws naming the field); takes effect at the next update boundary. Returns that
   *  step: the one after the update in progress, if one has already begun. */
  requestSwap(spec: { name: string; params?: Record<string, unknown> }): number {
    this.algorithm.requestSwap(withRunDefaults(spec, this.opts.maxResponseLength));
    return this.updating ? this.step + 2 : this.step + 1;
  }

  async update(groups: readonly VerifiedGroup[]): Promise<UpdateRecord> {
    this.updating = true;
    try {
      return await this.runUpdate(groups);
    } finally {
      this.updating = false;
    }
  }

  private async runUpdate(groups: readonly VerifiedGroup[]): Promise<UpdateRecord> {
    const t0 = performance.now();
    const step = this.step + 1;
    const before = this.algorithm.events.length;
    const spec = this.algorithm.beginUpdate(step);
    const swap = this.algorithm.events.length > before ? this.algorithm.events[this.algorithm.events.length - 1] : null;
    const key = JSON.stringify(spec);
    if (key !== this.trainerSpec) {
      // The loss is built into the graph: a new spec needs a new training session. Weights and AdamW
      // moments carry over untouched.
      const next = await LearnerCore.makeTrainer(this.config, this.trainer.weights, spec, this.opts, await this.trainer.state());
      await this.trainer.release();
      this.trainer = next;
      this.trainerSpec = key;
    }
    const rows = buildTrainingRows(groups, spec.params, this.opts.padId, this.config.vocabSize, this.opts.rolloutTemperature ?? 1);
    const batch = rows.batch;
    if (this.opts.learner.recomputeOldLogprobs || spec.params.kl_coef > 0) {
      this.forward ??= await ForwardSession.create(this.config, { provider: this.opts.device, threads: this.opts.threads });
      if (this.opts.learner.recomputeOldLogprobs) batch.extras!.logp_old = await this.forward.logprobs(this.trainer.weights, batch);
      if (spec.params.kl_coef > 0) batch.extras!.logp_ref = await this.forward.logprobs(this.reference, batch);
    }
    const B = batch.inputIds.shape[0];
    const mb = this.opts.learner.microBatch > 0 ? this.opts.learner.microBatch : B;
    const micro: TokenBatch[] = [];
    for (let i = 0; i < B; i += mb) micro.push(sliceRows(batch, i, Math.min(B, i + mb)));
    const r: StepResult = await this.trainer.train(micro);
    return {
      step: r.step,
      algorithm: spec.name,
      loss: r.loss,
      metrics: r.metrics,
      lr: r.lr,
      gradNorm: r.gradNorm,
      clipScale: r.clipScale,
      groups: groups.length,
      responses: rows.responses,
      responseTokens: rows.responseTokens,
      tokens: r.tokens,
      meanReward: rows.meanReward,
      meanLength: rows.meanLength,
      seconds: (performance.now() - t0) / 1000,
      swap,
    };
  }

  referenceWeights(): Weights {
    return this.reference;
  }

  async release(): Promise<void> {
    await this.trainer.release();
    await this.forward?.release();
  }
}
