// The rollout actor's policy: the model read from its directory, its tokenizer, an ONNX decoder, and
// the weights version it holds. New versions arrive through the object store (`WeightsRef` in KV) and are
// swapped in between generations, never during one.
import { createHash } from "node:crypto";
import { KV_BUCKETS, OBJECT_STORES, getBlob, kvGet, openKv, openObjectStore, type NatsConnection } from "@lspo/bus";
import {
  ContinuousBatch, OnnxDecoder, decodeEntry, generate, type ContinuousOptions, loadTokenizer, parseSafetensors, weightsFromCheckpoint, type Weights,
  type GenerateResult, type HfModel, type LlamaConfig, type Provider, type TextTokenizer,
} from "@lspo/model";
import type { WeightsRef } from "@lspo/proto";
import type { SafetensorsEntry } from "@lspo/model";
import { readModelDir } from "@lspo/tasks";

export interface PolicyOptions {
  modelDir: string;
  device: Provider;
  threads: number;
}

/**
 * The tokens that end a response: config.json's eos ids, generation_config.json's (a checkpoint may list
 * more there, e.g. an end-of-turn token, as transformers' generate honours), and the request's own
 * `sampling.stopTokenIds`, which add to the model's rather than replace them (an empty list adds none).
 * Checked against the vocabulary: an id outside it could never be sampled and would silently stop nothing.
 */
export function stopTokenIds(config: LlamaConfig, generationEos: readonly number[], requested: readonly number[] = []): number[] {
  requested.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= config.vocabSize) {
      throw new RangeError(`sampling.stopTokenIds[${i}] is ${id}: not a token id of this model (vocabulary [0, ${config.vocabSize}))`);
    }
  });
  return [...new Set([...config.eosTokenIds, ...generationEos, ...requested])].sort((a, b) => a - b);
}

/**
 * A weights version the actor will not generate with: a value in it is NaN or infinite, or a shard is not what
 * the pointer says (its size or SHA-256). Every generation on such a version would fail, so its prompts would be
 * retried until they were dead-lettered; the actor refuses the version instead and holds its prompts until the
 * pointer names other weights (WeightsFollower).
 */
export class RefusedWeightsError extends Error {
  override name = "RefusedWeightsError";
}

/** Throws RefusedWeightsError naming the first value of `data` that is not finite. */
function refuseNonFinite(data: Float32Array, name: string, where: string): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    // v - v is 0 for every finite v, NaN for NaN and for either infinity: one subtraction, no call per value.
    if (v - v !== 0) throw new RefusedWeightsError(`${where}: tensor '${name}' holds ${v} at flat index ${i} of ${data.length}; a version with a value that is not finite is refused`);
  }
}

export class Policy {
  /** Set while a version is being written into the weights in place: they are neither the old nor the new. */
  private torn: string | null = null;

  private constructor(
    readonly config: LlamaConfig,
    readonly tokenizer: TextTokenizer,
    private readonly decoder: OnnxDecoder,
    private currentVersion: number,
    /** The float32 weights the decoder runs (its host copy). */
    private weights: Weights,
    /** generation_config.json's eos ids ([] without the file). */
    private readonly generationEos: readonly number[] = [],
  ) {}

  static async load(opts: PolicyOptions): Promise<Policy> {
    const model: HfModel = readModelDir(opts.modelDir);
    const tokenizer = loadTokenizer(model.tokenizerJson, model.tokenizerConfigJson, `${opts.modelDir}/tokenizer.json`);
    const decoder = await OnnxDecoder.create(model.config, model.weights, { provider: opts.device, threads: opts.threads });
    return new Policy(model.config, tokenizer, decoder, 0, model.weights, model.generationConfig?.eosTokenIds ?? []);
  }

  /** The stop tokens for a request: the model's (config.json and generation_config.json) plus `requested`. */
  stopTokens(requested: readonly number[] = []): number[] {
    return stopTokenIds(this.config, this.generationEos, requested);
  }

  /** Weights and the KV cache kept on the device between decode steps (the default under webgpu). */
  get stateOnDevice(): boolean {
    return this.decoder.keepsStateOnDevice;
  }

  get version(): number {
    return this.currentVersion;
  }

  /** True while a failed in-place update has left the weights neither the old version nor the new. */
  get halfWritten(): boolean {
    return this.torn !== null;
  }

  /**
   * The same weights under a newer (or older) version number: an update that moved nothing (all-zero
   * advantages and no weight decay) publishes identical bytes, and samples must still carry the version
   * the learner is at, or the staleness rule drops them forever.
   */
  relabel(version: number): void {
    this.currentVersion = version;
  }

  /** Swaps in weights published as safetensors files (one, or the shards of a version, in any order). */
  async setWeights(files: readonly Uint8Array[], version: number): Promise<void> {
    const where = `weights v${version}`;
    const tensors = new Map<string, SafetensorsEntry>();
    files.forEach((bytes, i) => {
      for (const [name, entry] of parseSafetensors(bytes, `${where} shard ${i + 1}`).tensors) {
        if (tensors.has(name)) throw new Error(`${where}: tensor '${name}' is in more than one shard`);
        tensors.set(name, entry);
      }
    });
    // The files are this policy's own (fetched for it): float32 tensors stay views of them, so taking a
    // version holds its bytes once, not once as files and again as tensors.
    const weights = weightsFromCheckpoint(tensors, this.config, where, { copy: false });
    for (const [name, t] of weights) refuseNonFinite(t.data as Float32Array, name, where); // before the swap: a refusal leaves the policy as it was
    await this.decoder.setWeights(weights);
    this.weights = weights;
    this.torn = null;
    this.currentVersion = version;
  }

  /**
   * Writes a version into the weights the policy holds, shard by shard as `shards` yields them: the policy
   * never holds two models (a shard at a time beside its weights, not the old weights beside the new). Every
   * parameter must arrive, with its shape; until all have, the policy refuses to generate (a failed update that
   * wrote anything leaves it torn, and the next one writes every tensor again). A value that is not finite
   * refuses the version (RefusedWeightsError).
   */
  async updateInPlace(version: number, shards: AsyncIterable<Uint8Array>): Promise<void> {
    const where = `weights v${version}`;
    const written = new Set<string>();
    let i = 0;
    for await (const bytes of shards) {
      i++;
      // A shard is checked whole before any of it is written: a refused first shard leaves the policy as it
      // was (a refusal in a later one leaves it torn, as any failed update does).
      const checked: { into: Float32Array; from: Float32Array; name: string }[] = [];
      for (const [name, entry] of parseSafetensors(bytes, `${where} shard ${i}`).tensors) {
        const into = this.weights.get(name);
        if (!into) {
          // Buffers a checkpoint may carry that are not parameters (as weightsFromCheckpoint skips them).
          if (/(^|\.)rotary_emb\.inv_freq$/.test(name) || (name === "lm_head.weight" && this.config.tieWordEmbeddings)) continue;
          throw new Error(`${where}: tensor '${name}' is not a parameter of this model`);
        }
        if (entry.shape.join(",") !== into.shape.join(",")) throw new Error(`${where}: tensor '${name}' has shape [${entry.shape}], the model's is [${into.shape}]`);
        const t = decodeEntry(entry, { copy: false }); // a view of the shard's bytes, or bf16 widened
        if (t.dtype !== "float32") throw new Error(`${where}: tensor '${name}' is ${entry.dtype}; parameters are floating point`);
        refuseNonFinite(t.data as Float32Array, name, where);
        checked.push({ into: into.data as Float32Array, from: t.data as Float32Array, name });
      }
      if (checked.length) this.torn = where;
      for (const c of checked) {
        c.into.set(c.from);
        written.add(c.name);
      }
    }
    const missing = [...this.weights.keys()].filter((n) => !written.has(n));
    if (missing.length) throw new Error(`${where}: ${missing.length} parameter(s) did not arrive, e.g. '${missing[0]}'`);
    await this.decoder.setWeights(this.weights); // a device decoder uploads them again; on the host, nothing moves
    this.torn = null;
    this.currentVersion = version;
  }

  /**
   * A continuous batch of `rows` rows on this policy's decoder (the actor's continuous mode, stream.ts), for
   * sequences up to the model's context. The weights must not change until it is released.
   */
  openBatch(rows: number, onStep?: ContinuousOptions["onStep"]): ContinuousBatch {
    if (this.torn) throw this.tornError(this.torn);
    const pad = this.config.padTokenId ?? 0;
    return ContinuousBatch.open(this.decoder, rows, this.config.maxPositionEmbeddings, { pad, onStep });
  }

  generate(prompts: number[][], opts: Parameters<typeof generate>[2]): Promise<GenerateResult> {
    if (this.torn) return Promise.reject(this.tornError(this.torn));
    return generate(this.decoder, prompts, opts);
  }

  private tornError(torn: string): Error {
    return new Error(`the policy's weights are half-written (${torn} did not finish): they must be synced before generating`);
  }
}

/** How often an actor holding its prompts reads the pointer for weights other than those it refused, in ms. */
export const REFUSED_POLL_MS = 500;

/**
 * Follows the run's weights pointer; `sync()` brings the policy to what it points at. By content (the
 * digest), not by a larger version number: a learner restarted from an older checkpoint publishes a lower
 * version, and the actors must sample from that lineage, not keep the abandoned newer weights.
 */
export class WeightsFollower {
  /** Digest of the weights the policy holds; "" = the model directory's own (version 0). */
  private loaded = "";
  /** The version refused last (the pointer's content id) and why: not fetched again while the pointer names it. */
  private refusal: { sha256: string; error: RefusedWeightsError } | null = null;

  private constructor(
    private readonly kv: Awaited<ReturnType<typeof openKv>>,
    private readonly store: Awaited<ReturnType<typeof openObjectStore>>,
    private readonly runId: string,
    /** The pointer's read retries while NATS is away only while this holds (the actor: not once its stop began). */
    private readonly retryWhile?: () => boolean,
  ) {}

  static async open(nc: NatsConnection, runId: string, replicas = 1, opts: { retryWhile?: () => boolean } = {}): Promise<WeightsFollower> {
    return new WeightsFollower(
      await openKv(nc, KV_BUCKETS.weights, { replicas }),
      await openObjectStore(nc, OBJECT_STORES.weights, { replicas }),
      runId,
      opts.retryWhile,
    );
  }

  /** A version's shards one by one, each checked against the digest its pointer names (a shard the store
   *  kept but that is not what the learner wrote is refused, naming it) before it is used. */
  private async *shards(ref: WeightsRef): AsyncGenerator<Uint8Array> {
    for (const [i, shard] of ref.shards.entries()) {
      const bytes = await getBlob(this.store, shard.objectName);
      const got = createHash("sha256").update(bytes).digest("hex");
      if (bytes.byteLength !== Number(shard.sizeBytes) || got !== shard.sha256) {
        // Object names are fresh per publish, so these bytes will not change: the version is refused until the
        // pointer names another (a shard deleted meanwhile fails the read instead, and the pointer is read again).
        throw new RefusedWeightsError(`weights v${ref.version} shard ${i + 1}/${ref.shards.length} '${shard.objectName}': ${bytes.byteLength} bytes with SHA-256 ${got}, the pointer says ${shard.sizeBytes} bytes with ${shard.sha256}`);
      }
      yield bytes;
    }
  }

  /** True when the pointer names weights other than the policy's (sync() would load or relabel). */
  async behind(policy: Policy): Promise<boolean> {
    return this.change(await this.latest(), policy) !== "none";
  }

  /** What bringing `policy` to `ref` takes: nothing, a new version number on the same bytes, or a load. */
  private change(ref: WeightsRef | null, policy: Policy): "none" | "relabel" | "load" {
    if (!ref) return "none";
    // Half-written weights are no version's: whatever the pointer names is loaded (the version number the
    // policy still reports is the one before the failed update).
    if (policy.halfWritten) return "load";
    // Version 0 is the model directory's weights, which the policy starts with (no digest recorded).
    if (this.loaded === "" && Number(ref.version) === 0 && policy.version === 0) return "none";
    if (ref.sha256 !== this.loaded) return "load";
    return Number(ref.version) === policy.version ? "none" : "relabel";
  }

  async latest(): Promise<WeightsRef | null> {
    return (await kvGet<WeightsRef>(this.kv, this.runId, "WeightsRef", { retryWhile: this.retryWhile }))?.value ?? null;
  }

  /** Returns true when new weights were loaded. A read that fails (e.g. the object was replaced or
   *  deleted as a newer version landed) reads the pointer again. A version refused (a value not finite, a
   *  shard not what the pointer says) throws RefusedWeightsError, at once and without reading it again while the
   *  pointer still names it. */
  async sync(policy: Policy): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      const ref = await this.latest();
      const change = this.change(ref, policy);
      if (change === "none") return false;
      if (change === "relabel") {
        policy.relabel(Number(ref!.version));
        return true;
      }
      if (this.refusal?.sha256 === ref!.sha256) throw this.refusal.error;
      try {
        // Shards go into the weights in place, one at a time; an older publisher's single object is swapped.
        if (ref!.shards?.length) await policy.updateInPlace(Number(ref!.version), this.shards(ref!));
        else await policy.setWeights([await getBlob(this.store, ref!.objectName)], Number(ref!.version));
        this.loaded = ref!.sha256;
        return true;
      } catch (err) {
        this.loaded = ""; // whatever was half-written is no version's: the next sync writes every tensor again
        if (err instanceof RefusedWeightsError) {
          this.refusal = { sha256: ref!.sha256, error: err };
          throw err;
        }
        if (attempt >= 4) throw err;
      }
    }
  }

  /**
   * While the pointer names the version refused last, waits (reading it every `pollMs`), and returns true once
   * it names other weights, or at once when nothing was refused. Returns false if `stopped()` comes first.
   * The actor holds its prompts meanwhile (their ack deadlines kept): none is spent on a version that cannot
   * generate, and the learner's next version, or a restore from a checkpoint, sets the actor going again.
   */
  async holdWhileRefused(stopped: () => boolean, pollMs = REFUSED_POLL_MS): Promise<boolean> {
    while (this.refusal) {
      if (stopped()) return false;
      if ((await this.latest())?.sha256 !== this.refusal.sha256) this.refusal = null;
      else await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
    return true;
  }
}
