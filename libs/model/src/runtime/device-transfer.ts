// Host <-> device copies for DeviceTensors. onnxruntime-node has no upload/download call of its own for GPU
// buffers, so both are an Identity graph run by the provider: upload feeds a host tensor and keeps the output
// on the device; download feeds a DeviceTensor and fetches the output to the host. One small session per
// (direction, dtype, rank), made on first use.
import { Graph } from "../graph/graph.js";
import { identity } from "../graph/ops-elementwise.js";
import { encodeModel } from "../graph/serialize.js";
import type { DType, Tensor, Weights } from "../tensor.js";
import { DeviceTensor } from "./device-tensor.js";
import type { Provider } from "./providers.js";
import { OrtSession } from "./session.js";

export class DeviceTransfer {
  private readonly sessions = new Map<string, Promise<OrtSession>>();

  constructor(
    readonly provider: Provider,
    private readonly threads?: number,
  ) {}

  private session(direction: "up" | "down", dtype: DType, rank: number): Promise<OrtSession> {
    const key = `${direction}/${dtype}/${rank}`;
    let s = this.sessions.get(key);
    if (!s) {
      const g = new Graph(`${direction}load_${dtype}_${rank}`);
      g.output("y", identity(g.input("x", dtype, Array.from({ length: rank }, (_, i) => `d${i}`))));
      // Optimisation off: the Identity between a graph input and output is the copy itself.
      s = OrtSession.create(encodeModel(g), {
        provider: this.provider, optimization: "disabled", keepOnDevice: direction === "up" ? ["y"] : [],
        ...(this.threads ? { threads: this.threads } : {}),
      });
      this.sessions.set(key, s);
    }
    return s;
  }

  async upload<D extends DType>(t: Tensor<D>): Promise<DeviceTensor<D>> {
    const s = await this.session("up", t.dtype, t.shape.length);
    return (await s.runKeep({ x: t }, ["y"])).device.y as DeviceTensor<D>;
  }

  /** Every parameter, uploaded once: what a session then reads on every run without copying. */
  async uploadWeights(weights: Weights): Promise<Map<string, DeviceTensor<"float32">>> {
    const out = new Map<string, DeviceTensor<"float32">>();
    for (const [name, t] of weights) out.set(name, await this.upload(t));
    return out;
  }

  async download<D extends DType>(t: DeviceTensor<D>): Promise<Tensor<D>> {
    const s = await this.session("down", t.dtype, t.shape.length);
    return (await s.run({ x: t }, ["y"])).y as Tensor<D>;
  }

  async release(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) await (await s).release();
  }
}
