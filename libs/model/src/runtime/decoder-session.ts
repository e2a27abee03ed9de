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
