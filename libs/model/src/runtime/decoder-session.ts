// The rollout side: an IncrementalDecoder (the interface the generation loop drives) backed by the inference
// graph. Weights are graph inputs, fed by reference on every step, so a weight update is `setWeights` (no
// new session) and the past K/V come in as zero-copy views of the caller's time-major cache.
import type { LlamaConfig } from "../config.js";
import type { DecoderStepInput, DecoderStepOutput, IncrementalDecoder } from "../generate/decoder.js";
import { encodeModel } from "../graph/serialize.js";
import { validateWeights } from "../hf/params.js";
import { inferenceGraph, INPUT, pastName, presentName } from "../llama/graphs.js";
import type { Tensor, Weights } from "../tensor.js";
import { OrtSession, type SessionOptions } from "./session.js";

export class OnnxDecoder implements IncrementalDecoder {
  private weights: Weights;
  private readonly fetch: string[];

  private constructor(
    readonly config: LlamaConfig,
    weights: Weights,
    private readonly session: OrtSession,
  ) {
    this.weights = weights;
    this.fetch = ["logits"];
    for (let i = 0; i < config.numLayers; i++) this.fetch.push(presentName(i, "key"), presentName(i, "value"));
  }

  static async create(config: LlamaConfig, weights: Weights, options: SessionOptions = {}): Promise<OnnxDecoder> {
    validateWeights(weights, config);
    const session = await OrtSession.create(encodeModel(inferenceGraph(config)), options);
    return new OnnxDecoder(config, weights, session);
  }

  /** Swaps in new parameters (same config); takes effect at the next step. */
  setWeights(weights: Weights): void {
    validateWeights(weights, this.config);
    this.weights = weights;
  }

  async step(input: DecoderStepInput): Promise<DecoderStepOutput> {
    const L = this.config.numLayers;
    if (input.pastKeys.length !== L || input.pastValues.length !== L) {
      throw new Error(`OnnxDecoder.step: need past keys/values for ${L} layers, got ${input.pastKeys.length}/${input.pastValues.length}`);
    }
    checkStep(this.config, input);
    const feeds: Record<string, Tensor> = {
      [INPUT.ids]: input.inputIds,
      [INPUT.positions]: input.positionIds,
      [INPUT.mask]: input.attentionMask,
    };
    for (let i = 0; i < L; i++) {
      feeds[pastName(i, "key")] = input.pastKeys[i];
      feeds[pastName(i, "value")] = input.pastValues[i];
    }
    for (const [name, t] of this.weights) feeds[name] = t;
    const out = await this.session.run(feeds, this.fetch);
    return {
      logits: out.logits as Tensor<"float32">,
      newKeys: Array.from({ length: L }, (_, i) => out[presentName(i, "key")] as Tensor<"float32">),
      newValues: Array.from({ length: L }, (_, i) => out[presentName(i, "value")] as Tensor<"float32">),
    };
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}

/** Shapes of one step, checked before onnxruntime sees them (its errors name graph nodes, not our inputs). */
function checkStep(c: LlamaConfig, input: DecoderStepInput): void {
  const fail = (msg: string): never => {
    throw new Error(`OnnxDecoder.step: ${msg}`);
  };
  const [B, T] = input.inputIds.shape;
  if (input.inputIds.shape.length !== 2 || !(T > 0)) fail(`inputIds must be [B, T] with T > 0, got [${input.inputIds.shape}]`);
  if (input.positionIds.shape.join() !== `${B},${T}`) fail(`positionIds is [${input.positionIds.shape}], inputIds is [${B},${T}]`);
  const P = input.pastKeys[0].shape[0];
  const kv = `${P},${B},${c.numKvHeads},${c.headDim}`;
  input.pastKeys.forEach((t, i) => t.shape.join() !== kv && fail(`pastKeys[${i}] is [${t.shape}], expected [${kv}] (time-major [P, B, Hkv, hd])`));
  input.pastValues.forEach((t, i) => t.shape.join() !== kv && fail(`pastValues[${i}] is [${t.shape}], expected [${kv}] (time-major [P, B, Hkv, hd])`));
  if (input.attentionMask.shape.join() !== `${B},${P + T}`) fail(`attentionMask is [${input.attentionMask.shape}], expected [${B},${P + T}] (past ${P} + new ${T})`);
}
