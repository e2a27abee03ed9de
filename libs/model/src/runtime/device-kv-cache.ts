// The generation loop's KV cache kept on the decoder's device (see kv-cache.ts for the host one). Each decode
// step's graph already concatenates past and new keys for attention; it hands that whole cache back as a
// DeviceTensor and the next step takes it as its past, so under WebGPU no cache byte crosses to the host.
// Dropping finished rows is a Gather over the batch axis, run on the device too.
import type { LlamaConfig } from "../config.js";
import type { DecoderStepOutput, KvStore, KvTensor } from "../generate/decoder.js";
import { Graph } from "../graph/graph.js";
import { gather } from "../graph/ops-layout.js";
import { encodeModel } from "../graph/serialize.js";
import type { Tensor } from "../tensor.js";
import { type DeviceTensor, isDeviceTensor } from "./device-tensor.js";
import { OrtSession, type SessionOptions } from "./session.js";

/** A graph that keeps batch rows `rows` of every layer's keys and values: what `keepRows` runs. */
export async function rowGatherSession(c: LlamaConfig, options: SessionOptions): Promise<OrtSession> {
  const g = new Graph("kv_keep_rows");
  const rows = g.input("rows", "int64", ["R"]);
  const names: string[] = [];
  for (let l = 0; l < c.numLayers; l++) {
    for (const kind of ["key", "value"]) {
      const x = g.input(`in.${l}.${kind}`, "float32", ["S", "B", c.numKvHeads, c.headDim]);
      g.output(`out.${l}.${kind}`, gather(x, rows, 1));
      names.push(`out.${l}.${kind}`);
    }
  }
  return OrtSession.create(encodeModel(g), { ...options, keepOnDevice: names });
}

export class DeviceKvCache implements KvStore {
  P = 0;
  private keys: KvTensor[];
  private values: KvTensor[];

  constructor(
    private readonly config: LlamaConfig,
    public B: number,
    private readonly rowGather: OrtSession,
  ) {
    // The prefill's past: empty host tensors (nothing to copy).
    const empty = (): Tensor<"float32"> => ({ dtype: "float32", shape: [0, B, config.numKvHeads, config.headDim], data: new Float32Array(0) });
    this.keys = Array.from({ length: config.numLayers }, empty);
    this.values = Array.from({ length: config.numLayers }, empty);
  }

  past(): { keys: KvTensor[]; values: KvTensor[] } {
    return { keys: this.keys, values: this.values };
  }

  append(step: Omit<DecoderStepOutput, "logits">): void {
    if (!step.cacheKeys || !step.cacheValues) throw new Error("DeviceKvCache: the step returned no device cache (cacheKeys/cacheValues)");
    this.release();
    this.keys = step.cacheKeys;
    this.values = step.cacheValues;
    this.P = step.cacheKeys[0].shape[0];
  }

  async keepRows(rows: number[]): Promise<void> {
    const feeds: Record<string, KvTensor | Tensor<"int64">> = { rows: { dtype: "int64", shape: [rows.length], data: BigInt64Array.from(rows, BigInt) } };
    for (let l = 0; l < this.config.numLayers; l++) {
      feeds[`in.${l}.key`] = this.keys[l];
      feeds[`in.${l}.value`] = this.values[l];
    }
    const out = (await this.rowGather.runKeep(feeds, this.rowGather.outputNames)).device;
    this.release();
    this.keys = Array.from({ length: this.config.numLayers }, (_, l) => out[`out.${l}.key`] as DeviceTensor<"float32">);
    this.values = Array.from({ length: this.config.numLayers }, (_, l) => out[`out.${l}.value`] as DeviceTensor<"float32">);
    this.B = rows.length;
  }

  release(): void {
    for (const t of [...this.keys, ...this.values]) if (isDeviceTensor(t)) t.dispose();
  }
}
