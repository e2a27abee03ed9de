// The rollout side: an IncrementalDecoder (the interface the generation loop drives) backed by the inference
// graph. Weights are graph inputs, so a weight update is `setWeights` (no new session). Where they live:
// - host (cpu default): fed by reference on every step; the past K/V come in as zero-copy views of the
//   generation loop's time-major host cache, and a step returns only the new slice.
// - device (webgpu default): weights are uploaded once per setWeights, and the KV cache stays on the GPU
//   (DeviceKvCache): a step takes the previous step's whole cache and returns the new one, so a decode step
//   moves only token ids in and logits out. Fed from the host instead, every step would copy every weight.
import type { LlamaConfig } from "../config.js";
import type { DecoderStepInput, DecoderStepOutput, IncrementalDecoder, KvStore } from "../generate/decoder.js";
import { encodeModel } from "../graph/serialize.js";
import { validateWeights } from "../hf/params.js";
import { cacheName, inferenceGraph, INPUT, pastName, presentName } from "../llama/graphs.js";
import type { Tensor, Weights } from "../tensor.js";
import { type AnyTensor, type DeviceTensor, isDeviceTensor } from "./device-tensor.js";
import { DeviceKvCache, rowGatherSession } from "./device-kv-cache.js";
import { DeviceTransfer } from "./device-transfer.js";
import { OrtSession, type SessionOptions } from "./session.js";

export interface DecoderOptions extends Omit<SessionOptions, "keepOnDevice"> {
  /** Keep weights and the KV cache on the provider's device between steps. Default: true under webgpu,
   *  false under cpu (where "device" is the host: the path runs, and is tested, but saves nothing). */
  keepOnDevice?: boolean;
}

export class OnnxDecoder implements IncrementalDecoder {
  private weights: ReadonlyMap<string, AnyTensor<"float32">>;
  private readonly fetch: string[];

  private constructor(
    readonly config: LlamaConfig,
    weights: ReadonlyMap<string, AnyTensor<"float32">>,
    private readonly session: OrtSession,
    /** Present when state stays on the device: uploads weights, gathers cache rows. */
    private readonly device: { transfer: DeviceTransfer; rowGather: OrtSession; uploadWeights: boolean } | null,
  ) {
    this.weights = weights;
    this.fetch = ["logits"];
    const out = device ? cacheName : presentName;
    for (let i = 0; i < config.numLayers; i++) this.fetch.push(out(i, "key"), out(i, "value"));
  }

  static async create(config: LlamaConfig, weights: Weights, options: DecoderOptions = {}): Promise<OnnxDecoder> {
    validateWeights(weights, config);
    const { keepOnDevice, ...session } = options;
    const provider = session.provider ?? "cpu";
    if (!(keepOnDevice ?? provider === "webgpu")) {
      return new OnnxDecoder(config, weights, await OrtSession.create(encodeModel(inferenceGraph(config)), session), null);
    }
    const caches = Array.from({ length: config.numLayers }, (_, i) => [cacheName(i, "key"), cacheName(i, "value")]).flat();
    const main = await OrtSession.create(encodeModel(inferenceGraph(config, { wholeCache: true })), { ...session, keepOnDevice: caches });
    const transfer = new DeviceTransfer(provider, session.threads);
    const device = { transfer, rowGather: await rowGatherSession(config, session), uploadWeights: provider !== "cpu" };
    const dec = new OnnxDecoder(config, weights, main, device);
    await dec.setWeights(weights);
    return dec;
  }

  /** Where the KV cache and weights are kept between steps. */
  get keepsStateOnDevice(): boolean {
    return this.device !== null;
  }

  /** Swaps in new parameters (same config); takes effect at the next step. On a device: one upload, here. */
  async setWeights(weights: Weights): Promise<void> {
    validateWeights(weights, this.config);
    if (!this.device?.uploadWeights) {
      this.weights = weights;
      return;
    }
    const uploaded = await this.device.transfer.uploadWeights(weights);
    const old = this.weights;
    this.weights = uploaded;
    for (const t of old.values()) if (isDeviceTensor(t)) t.dispose();
  }

  /** A device cache for B rows; null when this decoder keeps its cache on the host (the loop's KvCache). */
  openCache(B: number): KvStore | null {
    return this.device ? new DeviceKvCache(this.config, B, this.device.rowGather) : null;
  }

  async step(input: DecoderStepInput): Promise<DecoderStepOutput> {
    const L = this.config.numLayers;
    if (input.pastKeys.length !== L || input.pastValues.length !== L) {
      throw new Error(`OnnxDecoder.step: need past keys/values for ${L} layers, got ${input.pastKeys.length}/${input.pastValues.length}`);
    }
    checkStep(this.config, input);
    const feeds: Record<string, AnyTensor> = {
      [INPUT.ids]: input.inputIds,
      [INPUT.positions]: input.positionIds,
      [INPUT.mask]: input.attentionMask,
    };
    for (let i = 0; i < L; i++) {
      feeds[pastName(i, "key")] = input.pastKeys[i];
      feeds[pastName(i, "value")] = input.pastValues[i];
    }
    for (const [name, t] of this.weights) feeds[name] = t;
    if (this.device) {
      const { host, device } = await this.session.runKeep(feeds, this.fetch);
      return {
        logits: host.logits as Tensor<"float32">,
        newKeys: [],
        newValues: [],
        cacheKeys: Array.from({ length: L }, (_, i) => device[cacheName(i, "key")] as DeviceTensor<"float32">),
        cacheValues: Array.from({ length: L }, (_, i) => device[cacheName(i, "value")] as DeviceTensor<"float32">),
      };
    }
    const out = await this.session.run(feeds, this.fetch);
    return {
      logits: out.logits as Tensor<"float32">,
      newKeys: Array.from({ length: L }, (_, i) => out[presentName(i, "key")] as Tensor<"float32">),
      newValues: Array.from({ length: L }, (_, i) => out[presentName(i, "value")] as Tensor<"float32">),
    };
  }

  async release(): Promise<void> {
    await this.session.release();
    if (this.device) {
      for (const t of this.weights.values()) if (isDeviceTensor(t)) t.dispose();
      await this.device.rowGather.release();
      await this.device.transfer.release();
    }
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
