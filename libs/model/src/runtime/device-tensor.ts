// A tensor left where the execution provider computed it. Under WebGPU that is a GPU buffer (onnxruntime's
// `gpu-buffer` output location): feeding it to the next run costs no host<->GPU copy, which is the point for
// state that lives across runs (the KV cache while decoding, weights and optimizer state in the learner).
// Under the CPU provider it is onnxruntime's own host tensor, fed back as is, so the same code path runs (and is
// tested) everywhere. Its values are opaque here: `OrtSession.download` copies them to the host when needed.
import type * as ort from "onnxruntime-node";
import type { DType, Tensor } from "../tensor.js";
import type { Provider } from "./providers.js";

export class DeviceTensor<D extends DType = DType> {
  readonly kind = "device";
  private disposed = false;

  constructor(
    readonly dtype: D,
    readonly shape: readonly number[],
    /** The provider whose sessions made it (and the only ones that may take it). */
    readonly provider: Provider,
    private readonly value: ort.Tensor,
  ) {}

  /** The onnxruntime value, for OrtSession only. Throws once disposed (a freed GPU buffer must not be fed). */
  ortValue(): ort.Tensor {
    if (this.disposed) throw new Error(`DeviceTensor [${this.shape}] ${this.dtype} on ${this.provider} was disposed`);
    return this.value;
  }

  /** Frees the device memory now (the garbage collector would, later). Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.value.location === "gpu-buffer") this.value.dispose();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }
}

/** A host Tensor or one left on the device: what a session run takes as an input. */
export type AnyTensor<D extends DType = DType> = Tensor<D> | DeviceTensor<D>;

export function isDeviceTensor<D extends DType>(t: AnyTensor<D>): t is DeviceTensor<D> {
  return (t as DeviceTensor<D>).kind === "device";
}
