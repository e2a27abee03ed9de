// The learner side: sessions over the log-prob graph (forward only, for PPO's old log-probs) and the training
// graph (forward + backward of a caller's loss). Parameters are inputs, so one session serves every step.
import type { LlamaConfig } from "../config.js";
import type { FloatDType } from "../graph/graph.js";
import { encodeModel } from "../graph/serialize.js";
import { validateWeights } from "../hf/params.js";
import { inverseTemperatures, scoredPositions, splitBatch, type TokenBatch } from "../llama/batch.js";
import { gradName, INPUT, forwardGraph, type LearnerGraphOptions, logitsGraph, type LossBuilder, metricName, trainingGraph, type TrainingGraph } from "../llama/graphs.js";
import type { Tensor, Weights } from "../tensor.js";
import { type AnyTensor, type DeviceTensor, isDeviceTensor } from "./device-tensor.js";
import { OrtSession, type SessionOptions } from "./session.js";

function batchFeeds(batch: TokenBatch, weights: ReadonlyMap<string, AnyTensor>, dtype: FloatDType = "float32"): Record<string, AnyTensor> {
  const inv = inverseTemperatures(batch);
  const feeds: Record<string, AnyTensor> = {
    [INPUT.ids]: batch.inputIds,
    [INPUT.positions]: batch.positionIds,
    [INPUT.mask]: batch.attentionMask,
    [INPUT.targets]: batch.targets,
    [INPUT.invTemperature]: dtype === "float64"
      ? { dtype: "float64", shape: [inv.length], data: Float64Array.from(inv) }
      : { dtype: "float32", shape: [inv.length], data: Float32Array.from(inv) },
    [INPUT.scored]: scoredPositions(batch),
  };
  const shape = batch.inputIds.shape.join(",");
  for (const k of ["targets", "positionIds", "attentionMask"] as const) {
    if (batch[k].shape.join(",") !== shape) throw new Error(`batch.${k} has shape [${batch[k].shape}], inputIds has [${shape}]`);
  }
  for (const [name, t] of weights) feeds[name] = t;
  return feeds;
}

/** Forward passes without gradient: log p(targets) [B, T] (old log-probs) or full logits [B, T, V]. */
export class ForwardSession {
  private logitsSession: Promise<OrtSession> | null = null;

  private constructor(
    readonly config: LlamaConfig,
    private readonly session: OrtSession,
    private readonly options: SessionOptions,
  ) {}

  static async create(config: LlamaConfig, options: SessionOptions & LearnerGraphOptions = {}): Promise<ForwardSession> {
    const { vocabChunk, recompute: _, ...given } = options;
    const session = { memoryPattern: false, ...given }; // see SessionOptions.memoryPattern
    return new ForwardSession(config, await OrtSession.create(encodeModel(forwardGraph(config, "float32", { vocabChunk })), session), session);
  }

  /** log p(targets) [B, T]; `rowsPerPass` bounds the sequences per forward pass (memory), results are joined. */
  async logprobs(weights: Weights, batch: TokenBatch, rowsPerPass = Infinity): Promise<Tensor<"float32">> {
    validateWeights(weights, this.config);
    const [B, T] = batch.inputIds.shape;
    const parts = rowsPerPass >= B ? [batch] : splitBatch(batch, rowsPerPass);
    const out = new Float32Array(B * T);
    let row = 0;
    for (const p of parts) {
      const lp = (await this.session.run(batchFeeds(p, weights), ["logprobs"])).logprobs;
      out.set(lp.data as Float32Array, row * T);
      row += p.inputIds.shape[0];
    }
    return { dtype: "float32", shape: [B, T], data: out };
  }

  /** Raw logits of every position (a second graph, built on first use: the log-prob graph never makes them). */
  async logits(weights: Weights, batch: TokenBatch): Promise<Tensor<"float32">> {
    validateWeights(weights, this.config);
    this.logitsSession ??= OrtSession.create(encodeModel(logitsGraph(this.config)), this.options);
    return (await (await this.logitsSession).run(batchFeeds(batch, weights), ["logits"])).logits as Tensor<"float32">;
  }

  async release(): Promise<void> {
    await this.session.release();
    if (this.logitsSession) await (await this.logitsSession).release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}

export interface ForwardBackward<D extends FloatDType = "float32"> {
  loss: number;
  metrics: Record<string, Tensor<D>>;
  /** d loss / d parameter, by parameter name. */
  grads: Map<string, Tensor<D>>;
}

/** Forward + backward of the loss a LossBuilder defines. */
export class GradientSession<D extends FloatDType = "float32"> {
  private readonly fetch: string[];

  private constructor(
    readonly config: LlamaConfig,
    readonly spec: Omit<TrainingGraph, "graph">,
    private readonly session: OrtSession,
    private readonly dtype: D,
  ) {
    this.fetch = ["loss", ...spec.metrics.map(metricName), ...spec.params.map(gradName)];
  }

  /** `gradsOnDevice`: the gradients stay on the device (runOnDevice) instead of coming back to the host (run). */
  static async create<D extends FloatDType = "float32">(
    config: LlamaConfig, loss: LossBuilder<D>, options: Omit<SessionOptions, "keepOnDevice"> & LearnerGraphOptions & { dtype?: D; gradsOnDevice?: boolean } = {},
  ): Promise<GradientSession<D>> {
    const { dtype, gradsOnDevice, vocabChunk: _, recompute, ...session } = options;
    const { graph, ...spec } = trainingGraph(config, loss, dtype ?? ("float32" as D), { recompute });
    // With recompute, a layer's forward values are read by the forward pass alone, so onnxruntime's extended
    // fusions (RMSNorm into one kernel) would apply there, and round otherwise than the unfused copies the
    // backward pass reads (2e-6 relative). The plain training graph gets no such fusion (its intermediates
    // feed the backward pass) and is the same at "basic"; so recompute runs at "basic": bit-identical.
    if (recompute && !session.optimization) session.optimization = "basic";
    session.memoryPattern ??= false; // see SessionOptions.memoryPattern
    const keepOnDevice = gradsOnDevice ? spec.params.map(gradName) : [];
    return new GradientSession<D>(config, spec, await OrtSession.create(encodeModel(graph), { ...session, keepOnDevice }), dtype ?? ("float32" as D));
  }

  async run(weights: ReadonlyMap<string, Tensor<D>>, batch: TokenBatch): Promise<ForwardBackward<D>> {
    if (weights.size && [...weights.values()][0].dtype === "float32") validateWeights(weights, this.config);
    const out = await this.session.run(this.feeds(weights, batch), this.fetch);
    const loss = Number(out.loss.data[0]);
    const metrics: Record<string, Tensor<D>> = {};
    for (const m of this.spec.metrics) metrics[m] = out[metricName(m)] as Tensor<D>;
    const grads = new Map<string, Tensor<D>>();
    for (const p of this.spec.params) grads.set(p, out[gradName(p)] as Tensor<D>);
    return { loss, metrics, grads };
  }

  /** Forward + backward with parameters that may be on the device; the gradients stay there (gradsOnDevice). */
  async runOnDevice(weights: ReadonlyMap<string, AnyTensor<D>>, batch: TokenBatch): Promise<{ loss: number; metrics: Record<string, Tensor<D>>; grads: Map<string, DeviceTensor<D>> }> {
    const host = [...weights.values()].filter((t) => !isDeviceTensor(t)) as Tensor<D>[];
    if (host.length === weights.size && host.length && host[0].dtype === "float32") validateWeights(weights as unknown as Weights, this.config);
    const { host: out, device } = await this.session.runKeep(this.feeds(weights, batch), this.fetch);
    const metrics: Record<string, Tensor<D>> = {};
    for (const m of this.spec.metrics) metrics[m] = out[metricName(m)] as Tensor<D>;
    const grads = new Map<string, DeviceTensor<D>>();
    for (const p of this.spec.params) grads.set(p, device[gradName(p)] as DeviceTensor<D>);
    return { loss: Number(out.loss.data[0]), metrics, grads };
  }

  private feeds(weights: ReadonlyMap<string, AnyTensor<D>>, batch: TokenBatch): Record<string, AnyTensor> {
    const feeds = batchFeeds(batch, weights, this.dtype);
    const extras = batch.extras ?? {};
    for (const x of this.spec.extraInputs) {
      const t = extras[x.name];
      if (!t) throw new Error(`batch.extras lacks '${x.name}' (the loss declares: ${this.spec.extraInputs.map((e) => e.name).join(", ")})`);
      if (t.dtype !== x.dtype) throw new Error(`batch.extras.${x.name} is ${t.dtype}, the loss declared ${x.dtype}`);
      feeds[x.name] = t;
    }
    const unknown = Object.keys(extras).filter((k) => !this.spec.extraInputs.some((x) => x.name === k));
    if (unknown.length) throw new Error(`batch.extras has inputs the loss does not declare: ${unknown.join(", ")}`);
    return feeds;
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}
