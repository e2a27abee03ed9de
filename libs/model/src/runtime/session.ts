// A thin runner over onnxruntime-node: create a session from serialised model bytes, feed our Tensors (no copy:
// ORT reads the typed arrays in place), get our Tensors back (one copy, ORT -> JS).
import * as ort from "onnxruntime-node";
import type { DType, Tensor } from "../tensor.js";
import { checkProvider, type Provider, providerError } from "./providers.js";

export interface SessionOptions {
  /** Execution provider; `cpu` by default. */
  provider?: Provider;
  /** Intra-op threads; 0 lets onnxruntime pick (one per physical core). */
  threads?: number;
  /** Graph optimisation level; `all` by default. */
  optimization?: "disabled" | "basic" | "extended" | "all";
}

export class SessionRunError extends Error {
  override name = "SessionRunError";
}

const ORT_TYPES = { float32: "float32", float64: "float64", int64: "int64", int32: "int32", bool: "bool" } as const satisfies Record<DType, ort.Tensor.Type>;

function toOrt(name: string, t: Tensor): ort.Tensor {
  if (!(t.dtype in ORT_TYPES)) throw new SessionRunError(`input '${name}': unsupported dtype ${t.dtype}`);
  return new ort.Tensor(ORT_TYPES[t.dtype], t.data, t.shape);
}

function fromOrt(name: string, v: ort.OnnxValue): Tensor {
  const t = v as ort.Tensor;
  const dtype = (Object.keys(ORT_TYPES) as DType[]).find((k) => ORT_TYPES[k] === t.type);
  if (!dtype) throw new SessionRunError(`output '${name}': onnxruntime returned unsupported type ${t.type}`);
  return { dtype, shape: [...t.dims], data: t.data as Tensor["data"] };
}

export class OrtSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly provider: Provider,
  ) {}

  static async create(model: Uint8Array, o: SessionOptions = {}): Promise<OrtSession> {
    const provider = checkProvider(o.provider ?? "cpu");
    const options: ort.InferenceSession.SessionOptions = {
      executionProviders: [provider],
      graphOptimizationLevel: o.optimization ?? "all",
      logSeverityLevel: 3,
      ...(o.threads ? { intraOpNumThreads: o.threads } : {}),
    };
    try {
      return new OrtSession(await ort.InferenceSession.create(model, options), provider);
    } catch (e) {
      throw providerError(provider, e);
    }
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** Runs the graph; `fetch` limits the outputs copied back (all by default). */
  async run(feeds: Record<string, Tensor>, fetch: readonly string[] = this.outputNames): Promise<Record<string, Tensor>> {
    const missing = this.inputNames.filter((n) => !(n in feeds));
    if (missing.length) throw new SessionRunError(`missing inputs: ${missing.join(", ")} (graph inputs: ${this.inputNames.join(", ")})`);
    const extra = Object.keys(feeds).filter((n) => !this.inputNames.includes(n));
    if (extra.length) throw new SessionRunError(`unknown inputs: ${extra.join(", ")} (graph inputs: ${this.inputNames.join(", ")})`);
    const unknown = fetch.filter((n) => !this.outputNames.includes(n));
    if (unknown.length) throw new SessionRunError(`unknown outputs: ${unknown.join(", ")} (graph outputs: ${this.outputNames.join(", ")})`);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, t] of Object.entries(feeds)) ortFeeds[k] = toOrt(k, t);
    const res = await this.session.run(ortFeeds, [...fetch]);
    const out: Record<string, Tensor> = {};
    for (const k of fetch) out[k] = fromOrt(k, res[k]);
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}
