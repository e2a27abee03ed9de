// The rollout side: an IncrementalDecoder (the interface the generation loop drives) backed by the inference
// graph. Weights are graph inputs, so a weight update is `setWeights` (no new session). Where they live:
// - host (cpu default): fed by reference on every step. The KV cache is the generation loop's, in JS, and a
//   step returns only the new slice. By default (`kvCache: "in-place"`) the cache is a SlotKvCache in the layout
//   attention reads, and decode steps run a second graph that reads it in place (slotDecodeGraph); the prefill
//   and `kvCache: "concat"` run the inference graph over a time-major past, which concatenates and transposes
//   the cache every step (the decomposed reference the in-place graph is tested against).
// - device (webgpu default): weights are uploaded once per setWeights, and the KV cache stays on the GPU
//   (DeviceKvCache): a step takes the previous step's whole cache and returns the new one, so a decode step
//   moves only token ids in and logits out. Fed from the host instead, every step would copy every weight.
import type { LlamaConfig } from "../config.js";
import type { DecoderStepInput, DecoderStepOutput, GreedyStepOutput, IncrementalDecoder, KvStore } from "../generate/decoder.js";
import { encodeModel } from "../graph/serialize.js";
import { validateWeights } from "../hf/params.js";
import { cacheName, GREEDY_OUTPUT, inferenceGraph, INPUT, pastName, presentName, SLOT_BIAS, type SlotGraphForm, slotDecodeGraph, slotGraphName, slotName } from "../llama/graphs.js";
import { MASKED } from "../llama/layers.js";
import { KvBufferPool } from "../generate/kv-buffer-pool.js";
import { SlotKvCache } from "../generate/slot-kv-cache.js";
import type { Tensor, Weights } from "../tensor.js";
import { type AnyTensor, type DeviceTensor, isDeviceTensor } from "./device-tensor.js";
import { DeviceKvCache, rowGatherSession } from "./device-kv-cache.js";
import { DeviceTransfer } from "./device-transfer.js";
import { OrtSession, type SessionOptions } from "./session.js";

export interface DecoderOptions extends Omit<SessionOptions, "keepOnDevice"> {
  /** Keep weights and the KV cache on the provider's device between steps. Default: true under webgpu,
   *  false under cpu (where "device" is the host: the path runs, and is tested, but saves nothing). */
  keepOnDevice?: boolean;
  /** A host cache's layout: "in-place" (default) decodes against a SlotKvCache read in place; "concat" against
   *  the time-major cache the inference graph concatenates each step. Not with keepOnDevice (the device cache is
   *  its own). */
  kvCache?: "in-place" | "concat";
}

export class OnnxDecoder implements IncrementalDecoder {
  private weights: ReadonlyMap<string, AnyTensor<"float32">>;
  private readonly fetch: string[];
  /** The last generation's slot-cache buffers, for the next one (kv-buffer-pool.ts: their pages are paid once). */
  private readonly kvBuffers = new KvBufferPool();
  /**
   * The in-place decode graph's other forms (llama/graphs.ts SlotGraphForm), each made at its first use: the
   * greedy one (greedyStep), and the one-row ones for steps of a single row. onnxruntime runs every node of a
   * graph whatever is fetched, so the greedy picks are a graph of their own rather than two more outputs of the
   * sampling one. A single row gets its own because there x W^T is the faster product, from 2 rows on W x^T
   * (ad hoc, 0.5B: a batch-1 step 79-89 ms against 107-109, a batch-2 one 151-156 against 129-131).
   */
  private readonly slotForms = new Map<string, Promise<OrtSession>>();

  private constructor(
    readonly config: LlamaConfig,
    weights: ReadonlyMap<string, AnyTensor<"float32">>,
    private readonly session: OrtSession,
    /** Present when state stays on the device: uploads weights, gathers cache rows. */
    private readonly device: { transfer: DeviceTransfer; rowGather: OrtSession; uploadWeights: boolean } | null,
    /** The in-place decode graph's session (kvCache "in-place"). */
    private readonly slots: OrtSession | null = null,
    private readonly sessionOptions: SessionOptions = {},
  ) {
    this.weights = weights;
    this.fetch = ["logits"];
    const out = device ? cacheName : presentName;
    for (let i = 0; i < config.numLayers; i++) this.fetch.push(out(i, "key"), out(i, "value"));
  }

  static async create(config: LlamaConfig, weights: Weights, options: DecoderOptions = {}): Promise<OnnxDecoder> {
    validateWeights(weights, config);
    const { keepOnDevice, kvCache, ...session } = options;
    const provider = session.provider ?? "cpu";
    if (kvCache !== undefined && kvCache !== "in-place" && kvCache !== "concat") {
      throw new Error(`OnnxDecoder: kvCache must be "in-place" or "concat", got ${JSON.stringify(kvCache)}`);
    }
    const onDevice = keepOnDevice ?? provider === "webgpu";
    if (onDevice && kvCache) {
      throw new Error(`OnnxDecoder: kvCache "${kvCache}" sets the layout of a host cache, but keepOnDevice keeps the cache on the ${provider} device; set one or the other`);
    }
    if (!onDevice) {
      const main = await OrtSession.create(encodeModel(inferenceGraph(config)), session);
      const slots = (kvCache ?? "in-place") === "in-place" ? await OrtSession.create(encodeModel(slotDecodeGraph(config)), session) : null;
      return new OnnxDecoder(config, weights, main, null, slots, session);
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

  /** Bytes of KV cache buffers held between generations for the next one. */
  get kvBytesHeld(): number {
    return this.kvBuffers.bytes;
  }

  /** How this decoder keeps the KV cache: on its device, on the host read in place, or host time-major. */
  get kvCache(): "device" | "in-place" | "concat" {
    return this.device ? "device" : this.slots ? "in-place" : "concat";
  }

  /** The cache generation keeps for B rows: on the device, host slots, or null (the loop's time-major KvCache). */
  openCache(B: number, steps: { initial: number; max: number } = { initial: 1, max: this.config.maxPositionEmbeddings }): KvStore | null {
    const c = this.config;
    if (this.device) return new DeviceKvCache(c, B, this.device.rowGather);
    return this.slots ? new SlotKvCache(c.numLayers, B, c.numKvHeads, c.headDim, steps.initial, steps.max, { pool: this.kvBuffers }) : null;
  }

  async step(input: DecoderStepInput): Promise<DecoderStepOutput> {
    const L = this.config.numLayers;
    checkLayers(this.config, input);
    if (input.pastLayout === "slots") return this.slotStep(input);
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

  /** The session of an in-place decode graph's form: the default one made with the decoder, the others at first use. */
  private slotSession(form: SlotGraphForm): Promise<OrtSession> {
    if (!form.greedy && !form.oneRow) return Promise.resolve(this.slots!);
    const name = slotGraphName(form);
    let session = this.slotForms.get(name);
    if (!session) this.slotForms.set(name, (session = OrtSession.create(encodeModel(slotDecodeGraph(this.config, form)), this.sessionOptions)));
    return session;
  }

  /** The in-place decode graphs this decoder has made so far, by name (the default first): which forms ran. */
  get slotGraphs(): string[] {
    return this.slots ? [slotGraphName({}), ...this.slotForms.keys()] : [];
  }

  /** The in-place decode graphs' feeds for a step over slots, its shapes checked. */
  private slotFeeds(input: DecoderStepInput): Record<string, AnyTensor> {
    if (!this.slots) throw new Error(`OnnxDecoder.step: the past is in slots, but this decoder was made with kvCache "concat"`);
    const c = this.config, L = c.numLayers;
    const [B, T] = input.inputIds.shape;
    if (input.inputIds.shape.length !== 2 || T !== 1) throw new Error(`OnnxDecoder.step: a step over slots decodes one token per row, got inputIds [${input.inputIds.shape}]`);
    if (input.positionIds.shape.join() !== `${B},1`) throw new Error(`OnnxDecoder.step: positionIds is [${input.positionIds.shape}], inputIds is [${B},1]`);
    // C (slots per row) is whatever the first layer's keys hold, once they are the slots' shape at all.
    const [k0] = input.pastKeys;
    const C = k0.shape[2];
    const slots = `${B},${c.numKvHeads},${k0.shape.length === 4 && k0.shape[3] === c.headDim ? C : "C"},${c.headDim}`;
    const check = (what: string, ts: readonly { shape: readonly number[] }[]) =>
      ts.forEach((t, i) => t.shape.join() !== slots && fail(`${what}[${i}] is [${t.shape}], expected [${slots}] (slots: [B, Hkv, C, hd], the same C for every layer's keys and values)`));
    check("pastKeys", input.pastKeys);
    check("pastValues", input.pastValues);
    let bias: Tensor<"float32">;
    if (input.slotLengths) {
      const lengths = input.slotLengths;
      if (lengths.length !== B || lengths.some((n) => !(n >= 0 && n <= C))) fail(`slotLengths [${lengths}] must give each of ${B} rows a length in [0, ${C}]`);
      bias = lengthBias(lengths, C);
    } else {
      const [mb, S] = input.attentionMask.shape;
      if (mb !== B || !(S >= 2 && S - 1 <= C)) fail(`attentionMask is [${input.attentionMask.shape}]: expected [${B}, P + 1] with 1 <= P <= ${C} slots`);
      bias = slotBias(input.attentionMask.data, B, S - 1, C);
    }
    const feeds: Record<string, AnyTensor> = { [INPUT.ids]: input.inputIds, [INPUT.positions]: input.positionIds, [SLOT_BIAS]: bias };
    for (let i = 0; i < L; i++) {
      feeds[slotName(i, "key")] = input.pastKeys[i];
      feeds[slotName(i, "value")] = input.pastValues[i];
    }
    for (const [name, t] of this.weights) feeds[name] = t;
    return feeds;
  }

  /** A decode step against a SlotKvCache's slots, read in place (llama/graphs.ts slotDecodeGraph). */
  private async slotStep(input: DecoderStepInput): Promise<DecoderStepOutput> {
    const feeds = this.slotFeeds(input); // first: it refuses a decoder without the slots graph
    const out = await (await this.slotSession({ oneRow: input.inputIds.shape[0] === 1 })).run(feeds, this.fetch);
    const L = this.config.numLayers;
    return {
      logits: out.logits as Tensor<"float32">,
      newKeys: Array.from({ length: L }, (_, i) => out[presentName(i, "key")] as Tensor<"float32">),
      newValues: Array.from({ length: L }, (_, i) => out[presentName(i, "value")] as Tensor<"float32">),
    };
  }

  /**
   * Greedy decoding's step over the slots: the greedy graph picks each row's token and log-prob, and no logits
   * come back (generate() uses it at temperature 0). Null for any other step (the prefill, a time-major past, a
   * device cache) and where a row's logits are not finite: `step` then gives the logits, whose sampling names
   * the bad entry. The step is pure (the caller writes the new keys and values), so running it again is safe.
   */
  async greedyStep(input: DecoderStepInput): Promise<GreedyStepOutput | null> {
    if (input.pastLayout !== "slots" || !this.slots) return null;
    checkLayers(this.config, input);
    const feeds = this.slotFeeds(input);
    const session = await this.slotSession({ greedy: true, oneRow: input.inputIds.shape[0] === 1 });
    const L = this.config.numLayers;
    const presents = this.fetch.slice(1); // every layer's present key and value (the host fetch list is logits, then those)
    const out = await session.run(feeds, [GREEDY_OUTPUT.token, GREEDY_OUTPUT.logprob, ...presents]);
    const logprobs = Float64Array.from(out[GREEDY_OUTPUT.logprob].data as Float32Array);
    if (!logprobs.every(Number.isFinite)) return null;
    return {
      tokens: Int32Array.from(out[GREEDY_OUTPUT.token].data as BigInt64Array, Number),
      logprobs,
      newKeys: Array.from({ length: L }, (_, i) => out[presentName(i, "key")] as Tensor<"float32">),
      newValues: Array.from({ length: L }, (_, i) => out[presentName(i, "value")] as Tensor<"float32">),
    };
  }

  async release(): Promise<void> {
    await this.session.release();
    await this.slots?.release();
    for (const session of this.slotForms.values()) await (await session).release();
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

function fail(msg: string): never {
  throw new Error(`OnnxDecoder.step: ${msg}`);
}

/**
 * The slots each row's query reads, as the decode graph's additive bias [B, C]: 0 where the attention mask
 * [B, P + 1] has a real token among the first P time steps, MASKED for padding and for slots P .. C-1 (not
 * written yet; the step's own token is joined inside the graph). The int64 mask is read through its low 32-bit
 * words (0 or 1, little-endian), which is much cheaper than reading BigInts.
 */
function slotBias(mask: BigInt64Array, B: number, P: number, C: number): Tensor<"float32"> {
  const words = new Int32Array(mask.buffer, mask.byteOffset, mask.length * 2);
  const data = new Float32Array(B * C).fill(MASKED);
  const S = P + 1;
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < P; s++) if (words[2 * (b * S + s)] !== 0) data[b * C + s] = 0;
  }
  return { dtype: "float32", shape: [B, C], data };
}

/** The bias [B, C] of rows whose first `lengths[b]` slots are filled, all real tokens (continuous batching). */
function lengthBias(lengths: Int32Array, C: number): Tensor<"float32"> {
  const data = new Float32Array(lengths.length * C).fill(MASKED);
  lengths.forEach((n, b) => data.fill(0, b * C, b * C + n));
  return { dtype: "float32", shape: [lengths.length, C], data };
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

function checkLayers(c: LlamaConfig, input: DecoderStepInput): void {
  const L = c.numLayers;
  if (input.pastKeys.length !== L || input.pastValues.length !== L) {
    throw new Error(`OnnxDecoder.step: need past keys/values for ${L} layers, got ${input.pastKeys.length}/${input.pastValues.length}`);
  }
}
