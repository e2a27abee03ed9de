// The learner's state and its one operation, `update(groups)`: the trainer loop as ALGORITHMS.md reads it —
// spec for this update (hot swap lands here, never mid-update) -> rows -> old log-probs (fixed once, before
// the first mini-batch: recomputed or the rollout's) -> reference log-probs (when KL is on) -> for each
// epoch, each mini-batch: forward+backward (micro-batches) -> clip -> AdamW. No NATS, no files: main.ts
// wires it to the streams and checkpoints. `step` counts updates; the trainer counts optimizer steps.
import { AlgorithmState, TRAINING_INPUTS, combineMetrics, trainingLossBuilder, type AlgorithmSpec, type AlgorithmStateSnapshot, type SwapEvent } from "@lspo/algos";
import {
  ForwardSession, NonFiniteStepError, Trainer, type AdamWState, type LlamaConfig, type Provider, type Tensor, type TokenBatch, type Weights,
} from "@lspo/model";
import type { RunConfig } from "@lspo/config";
import type { VerifiedGroup } from "@lspo/proto";
import { buildTrainingRows, lossWeights, type TrainingRows } from "./batch-tensors.js";
import { rolloutLogpDiff, tisWeights } from "./old-logprobs.js";
import { type MiniBatch, microBatchRows, miniBatchGroups, planUpdate } from "./update-plan.js";

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
  /** B, the groups an update should train (sampler.batchSize): an update with fewer records `groupsShort`. */
  batchSize?: number;
}

export interface UpdateRecord {
  step: number;
  algorithm: string;
  /** Mean of the optimizer steps' (mini-batch) losses. */
  loss: number;
  /** Token-weighted over every micro-batch of the update (the same for any micro-batch size), plus
   *  rollout_logp_diff_max/mean and tis_mean/tis_capped_frac where computed. */
  metrics: Record<string, number>;
  /** Learning rate of the last optimizer step. */
  lr: number;
  /** Mean pre-clip gradient norm over the optimizer steps, and the largest. */
  gradNorm: number;
  gradNormMax: number;
  /** Smallest clip factor over the optimizer steps (1 = never clipped). */
  clipScale: number;
  /** AdamW steps taken: mini-batches x ppoEpochs. */
  optimizerSteps: number;
  groups: number;
  /** B - groups when the update trained fewer than B groups (0 when B is not known). */
  groupsShort: number;
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

/** The row range [from, to) of `batch`, as its own TokenBatch (extras and temperatures included). */
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

/** A NaN or infinite loss or gradient in an update, naming the groups of the micro-batch it came from. */
export class NonFiniteUpdateError extends Error {
  override name = "NonFiniteUpdateError";
}

/** A learner setting that cannot work, found when the learner starts. */
export class LearnerConfigError extends Error {
  override name = "LearnerConfigError";
}

/** Where logp_old comes from: `learner.oldLogprobs`, else the older `recomputeOldLogprobs` switch. */
export function oldLogprobsSource(l: RunConfig["learner"]): "recompute" | "rollout" {
  return l.oldLogprobs ?? (l.recomputeOldLogprobs ? "recompute" : "rollout");
}

export class LearnerCore {
  private trainer: Trainer;
  private trainerSpec: string;
  private forward: ForwardSession | null = null;
  /** Between beginUpdate and the end of that update: a swap requested now lands one step later. */
  private updating = false;
  /** Swaps re-scheduled after a restart (swap-log.ts), by the update they take effect at. */
  private readonly scheduled = new Map<number, AlgorithmSpec>();

  private constructor(
    readonly config: LlamaConfig,
    private readonly opts: LearnerOptions,
    readonly algorithm: AlgorithmState,
    trainer: Trainer,
    private reference: Weights | (() => Weights),
    /** Updates done (the policy version of the weights held); the trainer counts optimizer steps. */
    private updates: number,
  ) {
    this.trainer = trainer;
    this.trainerSpec = JSON.stringify(algorithm.active);
  }

  /**
   * `resume.step` is the update count of the checkpoint; without it (checkpoints from before mini-batches)
   * the optimizer's step count, which was the update count when every update was one optimizer step.
   */
  static async create(
    config: LlamaConfig,
    weights: Weights,
    opts: LearnerOptions,
    resume?: { optimizer: AdamWState; algorithm: AlgorithmStateSnapshot; reference?: Weights; step?: number },
    /** Where the KL reference comes from when an algorithm first needs it (the base model, read again from its
     *  directory): the learner then keeps no copy of the weights for a KL term it may never use. Without it,
     *  a copy of the initial weights is kept (or resume.reference). */
    loadReference?: () => Weights,
  ): Promise<LearnerCore> {
    if (opts.learner.tisCap !== null && oldLogprobsSource(opts.learner) !== "recompute") {
      throw new LearnerConfigError("learner.tisCap needs recomputed old log-probs (learner.oldLogprobs: recompute); with the rollout's own, every TIS weight would be 1");
    }
    const algorithm = resume
      ? AlgorithmState.restore(resume.algorithm)
      : new AlgorithmState(withRunDefaults({ name: opts.learner.algorithm.name, params: opts.learner.algorithm.overrides }, opts.maxResponseLength));
    // With a reference loader the trainer takes the weights it is given (one copy of the model fewer).
    const reference: Weights | (() => Weights) = resume?.reference ?? loadReference ?? new Map([...weights].map(([k, t]) => [k, { ...t, data: Float32Array.from(t.data) }]));
    const trainer = await LearnerCore.makeTrainer(config, weights, algorithm.active, opts, resume?.optimizer, Boolean(loadReference));
    return new LearnerCore(config, opts, algorithm, trainer, reference, resume ? (resume.step ?? resume.optimizer.step) : 0);
  }

  /** Optimizer steps per update when every update has B groups (4 assumed when B is not given). */
  private static stepsPerUpdate(o: LearnerOptions): number {
    const B = o.batchSize ?? 4;
    return o.learner.ppoEpochs * Math.ceil(B / miniBatchGroups(B, o.learner.ppoMiniBatch));
  }

  private static makeTrainer(config: LlamaConfig, weights: Weights, spec: AlgorithmSpec, o: LearnerOptions, state?: AdamWState, adopt = false): Promise<Trainer> {
    // The schedule runs per optimizer step; run.steps and learner.warmupSteps count updates (as they did
    // when an update was one step), so both scale by the optimizer steps an update of B groups takes.
    const per = LearnerCore.stepsPerUpdate(o);
    const totalSteps = o.totalSteps * per;
    return Trainer.create(config, weights, trainingLossBuilder(spec.params) as never, {
      schedule: { kind: o.learner.schedule, lr: o.learner.lr, warmupSteps: o.learner.warmupSteps * per, ...(o.learner.schedule === "cosine" ? { totalSteps } : {}) },
      adamw: { weightDecay: o.learner.weightDecay },
      maxGradNorm: o.learner.maxGradNorm,
      provider: o.device,
      threads: o.threads,
      recompute: o.learner.recompute,
      ...(state ? { state } : {}),
      ...(adopt ? { adoptWeights: true, adoptState: true } : {}),
    });
  }

  /** Updates done so far (= the version of the weights held). */
  get step(): number {
    return this.updates;
  }

  /** AdamW steps done so far (several per update with mini-batches). */
  get optimizerSteps(): number {
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
    const effective = this.updating ? this.step + 2 : this.step + 1;
    // A re-scheduled swap due at or before this boundary is superseded by this later request (last wins).
    for (const s of [...this.scheduled.keys()]) if (s <= effective) this.scheduled.delete(s);
    return effective;
  }

  /**
   * Re-schedules a swap accepted before a restart to take effect at update `step`, as it did (or would
   * have): the swap log's records after the resumed checkpoint. A later one for the same step wins.
   */
  scheduleSwap(step: number, spec: AlgorithmSpec): void {
    if (!Number.isInteger(step) || step <= this.step) throw new LearnerConfigError(`scheduleSwap: step ${step} is not after the current update ${this.step}`);
    this.scheduled.set(step, spec);
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
    // Everything up to beginUpdate runs before the first await: the learner's SwapGate counts on an update's
    // algorithm being fixed the moment update() is called (swap-log.ts).
    const t0 = performance.now();
    const step = this.step + 1;
    const due = this.scheduled.get(step);
    if (due) {
      this.algorithm.requestSwap(due);
      this.scheduled.delete(step);
    }
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
    const l = this.opts.learner;
    const rows = buildTrainingRows(groups, spec.params, this.opts.padId, this.config.vocabSize, this.opts.rolloutTemperature ?? 1);
    const extra = await this.fixOldLogprobs(groups, rows, spec.params.kl_coef > 0);

    const plan = planUpdate(rows.groupRows, l.ppoMiniBatch, l.ppoEpochs);
    const parts: Record<string, number>[] = [];
    const losses: number[] = [];
    const norms: number[] = [];
    let clipScale = 1;
    let lr = 0;
    for (const mb of plan) {
      const r = await this.trainMiniBatch(groups, rows, spec.params, mb, extra.tis);
      parts.push(...r.microBatchMetrics);
      losses.push(r.loss);
      norms.push(r.gradNorm);
      clipScale = Math.min(clipScale, r.clipScale);
      lr = r.lr;
    }
    this.updates = step;
    let tokens = 0;
    for (const v of rows.batch.attentionMask.data) tokens += Number(v);
    return {
      step,
      algorithm: spec.name,
      loss: losses.reduce((a, b) => a + b, 0) / losses.length,
      metrics: { ...combineMetrics(parts), ...extra.metrics },
      lr,
      gradNorm: norms.reduce((a, b) => a + b, 0) / norms.length,
      gradNormMax: Math.max(...norms),
      clipScale,
      optimizerSteps: plan.length,
      groups: groups.length,
      groupsShort: this.opts.batchSize !== undefined ? Math.max(0, this.opts.batchSize - groups.length) : 0,
      responses: rows.responses,
      responseTokens: rows.responseTokens,
      tokens,
      meanReward: rows.meanReward,
      meanLength: rows.meanLength,
      seconds: (performance.now() - t0) / 1000,
      swap,
    };
  }

  /**
   * Fixes logp_old for the whole batch before its first mini-batch: recomputed with the weights held now, or
   * the rollout's (already in the rows). With recomputed ones, also the rollout-vs-learner mismatch on rows
   * sampled by these very weights and, when learner.tisCap is set, the TIS factors. And logp_ref for KL.
   */
  private async fixOldLogprobs(groups: readonly VerifiedGroup[], rows: TrainingRows, kl: boolean): Promise<{ metrics: Record<string, number>; tis?: Float32Array }> {
    const l = this.opts.learner;
    const source = oldLogprobsSource(l);
    const batch = rows.batch;
    const metrics: Record<string, number> = {};
    let tis: Float32Array | undefined;
    if (source === "recompute" || kl) {
      this.forward ??= await ForwardSession.create(this.config, { provider: this.opts.device, threads: this.opts.threads, vocabChunk: l.vocabChunk });
      const perPass = l.microBatch > 0 ? l.microBatch : Infinity;
      if (source === "recompute") {
        const rollout = batch.extras![TRAINING_INPUTS.logpOld].data as Float32Array;
        const old = await this.forward.logprobs(this.trainer.weights, batch, perPass);
        batch.extras![TRAINING_INPUTS.logpOld] = old;
        const sameVersion: boolean[] = [];
        rows.groupRows.forEach((g, gi) => {
          for (let b = g.from; b < g.to; b++) sameVersion[b] = Number(groups[gi].group!.policyVersion) === this.updates;
        });
        const diff = rolloutLogpDiff(rows, rollout, old.data, sameVersion);
        // Tokens compared: 0 says why the max/mean are absent (every group came from an older version).
        metrics.rollout_logp_diff_tokens = diff?.tokens ?? 0;
        if (diff) Object.assign(metrics, { rollout_logp_diff_max: diff.max, rollout_logp_diff_mean: diff.mean });
        if (l.tisCap !== null) {
          const w = tisWeights(rows, rollout, old.data, l.tisCap);
          tis = w.factor;
          Object.assign(metrics, { tis_mean: w.mean, tis_capped_frac: w.capped });
        }
      }
      if (kl) batch.extras![TRAINING_INPUTS.logpRef] = await this.forward.logprobs(this.referenceWeights(), batch, perPass);
    }
    return { metrics, ...(tis ? { tis } : {}) };
  }

  /** One optimizer step on one mini-batch: its own aggregation weights, split into micro-batches. */
  private async trainMiniBatch(groups: readonly VerifiedGroup[], rows: TrainingRows, params: AlgorithmSpec["params"], mb: MiniBatch, tis?: Float32Array) {
    const sub = sliceRows(rows.batch, mb.rows.from, mb.rows.to);
    const T = rows.batch.inputIds.shape[1];
    sub.extras![TRAINING_INPUTS.lossWeight] = { dtype: "float32", shape: [mb.rows.to - mb.rows.from, T], data: lossWeights(rows, params, mb.rows.from, mb.rows.to, tis) };
    const micro = microBatchRows(0, mb.rows.to - mb.rows.from, this.opts.learner.microBatch);
    try {
      return await this.trainer.train(micro.map((m) => sliceRows(sub, m.from, m.to)));
    } catch (e) {
      if (!(e instanceof NonFiniteStepError)) throw e;
      // Name the groups: of the micro-batch when known, else of the mini-batch.
      const span = e.microBatch === null ? { from: mb.rows.from, to: mb.rows.to } : { from: mb.rows.from + micro[e.microBatch].from, to: mb.rows.from + micro[e.microBatch].to };
      const named = rows.groupRows.flatMap((g, gi) => (g.from < span.to && g.to > span.from ? [`groups[${gi}] (${groups[gi].group?.uid ?? "?"})`] : []));
      throw new NonFiniteUpdateError(`update ${this.step + 1}, epoch ${mb.epoch}, groups ${mb.groups.from}..${mb.groups.to - 1}: ${e.message}; from ${named.join(", ")}`);
    }
  }

  /** The KL reference (the base model), loaded on first use when the learner was given a loader. */
  referenceWeights(): Weights {
    if (typeof this.reference === "function") this.reference = this.reference();
    return this.reference;
  }

  /** The optimizer state for a checkpoint written now, before the next update: not a copy (trainer.stateView). */
  optimizerStateView(): Promise<AdamWState> {
    return this.trainer.stateView();
  }

  async release(): Promise<void> {
    await this.trainer.release();
    await this.forward?.release();
  }
}
