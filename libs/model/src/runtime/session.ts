// A thin runner over onnxruntime-node: create a session from serialised model bytes, feed our Tensors (no copy:
// ORT reads the typed arrays in place), get our Tensors back (one copy, ORT -> JS). Outputs named in
// `keepOnDevice` stay where the provider computed them (DeviceTensor: a GPU buffer under WebGPU) and can be fed
// to the next run of any session of the same provider without a round trip through the host.
import * as ort from "onnxruntime-node";
import type { DType, Tensor } from "../tensor.js";
import { type AnyTensor, DeviceTensor, isDeviceTensor } from "./device-tensor.js";
import { checkProvider, type Provider, providerError } from "./providers.js";

export interface SessionOptions {
  /** Execution provider; `cpu` by default. */
  provider?: Provider;
  /** Intra-op threads; 0 lets onnxruntime pick (one per physical core). */
  threads?: number;
  /** Graph optimisation level; `all` by default. */
  optimization?: "disabled" | "basic" | "extended" | "all";
  /** onnxruntime's memory pattern: one block planned for all of a run's intermediates (default true). The
   *  learner's graphs turn it off: for a training step it reserved 1.5x the live peak (bench learner-memory). */
  memoryPattern?: boolean;
  /** Outputs left on the device (`runKeep` returns them as DeviceTensors); the rest come back to the host. */
  keepOnDevice?: readonly string[];
}

export class SessionRunError extends Error {
  override name = "SessionRunError";
}

const ORT_TYPES = { float32: "float32", float64: "float64", int64: "int64", int32: "int32", bool: "bool" } as const satisfies Record<DType, ort.Tensor.Type>;

function toOrt(name: string, t: AnyTensor, provider: Provider): ort.Tensor {
  if (isDeviceTensor(t)) {
    if (t.provider !== provider) throw new SessionRunError(`input '${name}': a DeviceTensor of the ${t.provider} provider fed to a ${provider} session`);
    return t.ortValue();
  }
  if (!(t.dtype in ORT_TYPES)) throw new SessionRunError(`input '${name}': unsupported dtype ${t.dtype}`);
  return new ort.Tensor(ORT_TYPES[t.dtype], t.data, t.shape);
}

function dtypeOf(name: string, t: ort.Tensor): DType {
  const dtype = (Object.keys(ORT_TYPES) as DType[]).find((k) => ORT_TYPES[k] === t.type);
  if (!dtype) throw new SessionRunError(`output '${name}': onnxruntime returned unsupported type ${t.type}`);
  return dtype;
}

function fromOrt(name: string, v: ort.OnnxValue): Tensor {
  const t = v as ort.Tensor;
  const dtype = dtypeOf(name, t);
  if (t.location !== "cpu") throw new SessionRunError(`output '${name}' is on '${t.location}', not the host`);
  return { dtype, shape: [...t.dims], data: t.data as Tensor["data"] };
}

export class OrtSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly provider: Provider,
    private readonly onDevice: ReadonlySet<string>,
  ) {}

  static async create(model: Uint8Array, o: SessionOptions = {}): Promise<OrtSession> {
    const provider = checkProvider(o.provider ?? "cpu");
    const keep = o.keepOnDevice ?? [];
    // onnxruntime-node can leave an output in GPU memory only as a WebGPU buffer (preferredOutputLocation
    // "gpu-buffer"); under CUDA every output comes back to the host. Refused, rather than a "device" tensor
    // that is a host copy made every run.
    if (provider === "cuda" && keep.length) {
      throw new SessionRunError(
        `keepOnDevice (${keep.join(", ")}) is not supported under the cuda provider: onnxruntime-node returns every output to the host there, so weights, KV cache and optimizer state would be copied each run. Use provider webgpu to keep state on the GPU, or leave keepOnDevice unset (the default under cuda)`,
      );
    }
    const options: ort.InferenceSession.SessionOptions = {
      executionProviders: [provider],
      graphOptimizationLevel: o.optimization ?? "all",
      logSeverityLevel: 3,
      ...(o.memoryPattern === false ? { enableMemPattern: false } : {}),
      ...(o.threads ? { intraOpNumThreads: o.threads } : {}),
      // Only a GPU provider has somewhere else to leave them; under cpu the host tensor is the device tensor.
      ...(provider === "webgpu" && keep.length ? { preferredOutputLocation: Object.fromEntries(keep.map((n) => [n, "gpu-buffer" as const])) } : {}),
    };
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(model, options);
    } catch (e) {
      throw providerError(provider, e);
    }
    const unknown = keep.filter((n) => !session.outputNames.includes(n));
    if (unknown.length) {
      await session.release();
      throw new SessionRunError(`keepOnDevice names unknown outputs: ${unknown.join(", ")} (graph outputs: ${session.outputNames.join(", ")})`);
    }
    return new OrtSession(session, provider, new Set(keep));
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** Runs the graph; `fetch` limits the outputs copied back (all host outputs by default). */
  async run(feeds: Record<string, AnyTensor>, fetch: readonly string[] = this.outputNames.filter((n) => !this.onDevice.has(n))): Promise<Record<string, Tensor>> {
    const kept = fetch.filter((n) => this.onDevice.has(n));
    if (kept.length) throw new SessionRunError(`outputs ${kept.join(", ")} stay on the device: fetch them with runKeep`);
    return (await this.runKeep(feeds, fetch)).host;
  }

  /** Runs the graph; of `fetch`, the outputs named in keepOnDevice come back as DeviceTensors, the rest as host Tensors. */
  async runKeep(feeds: Record<string, AnyTensor>, fetch: readonly string[]): Promise<{ host: Record<string, Tensor>; device: Record<string, DeviceTensor> }> {
    const missing = this.inputNames.filter((n) => !(n in feeds));
    if (missing.length) throw new SessionRunError(`missing inputs: ${missing.join(", ")} (graph inputs: ${this.inputNames.join(", ")})`);
    const extra = Object.keys(feeds).filter((n) => !this.inputNames.includes(n));
    if (extra.length) throw new SessionRunError(`unknown inputs: ${extra.join(", ")} (graph inputs: ${this.inputNames.join(", ")})`);
    const unknown = fetch.filter((n) => !this.outputNames.includes(n));
    if (unknown.length) throw new SessionRunError(`unknown outputs: ${unknown.join(", ")} (graph outputs: ${this.outputNames.join(", ")})`);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, t] of Object.entries(feeds)) ortFeeds[k] = toOrt(k, t, this.provider);
    const res = await this.session.run(ortFeeds, [...fetch]);
    const host: Record<string, Tensor> = {};
    const device: Record<string, DeviceTensor> = {};
    for (const k of fetch) {
      const v = res[k] as ort.Tensor;
      if (this.onDevice.has(k)) device[k] = new DeviceTensor(dtypeOf(k, v), [...v.dims], this.provider, v);
      else host[k] = fromOrt(k, v);
    }
    return { host, device };
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}
