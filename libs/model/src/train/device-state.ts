// The learner's state kept on the execution provider's device between steps (webgpu): parameters, AdamW moments
// and gradients are DeviceTensors, and a step's host traffic is the batch in, and the loss, the gradient norm
// and the new parameters out (the learner publishes those after every step anyway). Fed from the host instead,
// each micro-batch uploads every parameter and downloads every gradient, and AdamW runs in JS.
// Four small graphs do the work on the device: gradient accumulation over micro-batches, the sum of squares
// for the global norm, the AdamW update (adamw-graph.ts, with a host copy of the new parameters) and the
// transfers (device-transfer.ts).
import { Graph } from "../graph/graph.js";
import { add, mul } from "../graph/ops-elementwise.js";
import { sumAll } from "../graph/ops-linalg.js";
import { encodeModel } from "../graph/serialize.js";
import type { DeviceTensor } from "../runtime/device-tensor.js";
import { DeviceTransfer } from "../runtime/device-transfer.js";
import { OrtSession, type SessionOptions } from "../runtime/session.js";
import type { Tensor, Weights } from "../tensor.js";
import type { AdamWConfig, AdamWState } from "./adamw.js";
import { adamwGraph } from "./adamw-graph.js";

export type DeviceMap = Map<string, DeviceTensor<"float32">>;

const scalar = (x: number): Tensor<"float32"> => ({ dtype: "float32", shape: [], data: Float32Array.of(x) });

function disposeAll(m: DeviceMap): void {
  for (const t of m.values()) t.dispose();
}

export class DeviceTrainState {
  private accumulateSession: Promise<OrtSession> | null = null;

  private constructor(
    private readonly c: AdamWConfig,
    private readonly shapes: ReadonlyMap<string, readonly number[]>,
    private readonly options: SessionOptions,
    private readonly transfer: DeviceTransfer,
    private readonly normSession: OrtSession,
    private readonly adamwSession: OrtSession,
    private p: DeviceMap,
    private m: DeviceMap,
    private v: DeviceMap,
  ) {}

  static async create(weights: Weights, state: AdamWState, c: AdamWConfig, options: SessionOptions): Promise<DeviceTrainState> {
    const shapes = new Map([...weights].map(([k, t]) => [k, t.shape]));
    const norm = new Graph("grad_sum_of_squares");
    let total = null;
    for (const [name, shape] of shapes) {
      const g = norm.input(`g.${name}`, "float32", [...shape]);
      const sq = sumAll(mul(g, g));
      total = total ? add(total, sq) : sq;
    }
    if (!total) throw new Error("DeviceTrainState: no parameters");
    norm.output("sumsq", total);
    const names = [...shapes.keys()];
    const kept = names.flatMap((n) => [`new_p.${n}`, `new_m.${n}`, `new_v.${n}`]);
    const transfer = new DeviceTransfer(options.provider ?? "cpu", options.threads);
    const [normSession, adamwSession] = await Promise.all([
      OrtSession.create(encodeModel(norm), options),
      OrtSession.create(encodeModel(adamwGraph(weights, c, { hostCopy: true })), { ...options, keepOnDevice: kept }),
    ]);
    return new DeviceTrainState(c, shapes, options, transfer, normSession, adamwSession,
      await transfer.uploadWeights(weights), await transfer.uploadWeights(state.m), await transfer.uploadWeights(state.v));
  }

  /** The parameters on the device, to feed the gradient graph. */
  params(): ReadonlyMap<string, DeviceTensor<"float32">> {
    return this.p;
  }

  /** a + b per parameter, on the device; disposes both. */
  async accumulate(a: DeviceMap, b: DeviceMap): Promise<DeviceMap> {
    this.accumulateSession ??= (async () => {
      const g = new Graph("grad_accumulate");
      for (const [name, shape] of this.shapes) g.output(`sum.${name}`, add(g.input(`a.${name}`, "float32", [...shape]), g.input(`b.${name}`, "float32", [...shape])));
      return OrtSession.create(encodeModel(g), { ...this.options, keepOnDevice: [...this.shapes.keys()].map((n) => `sum.${n}`) });
    })();
    const s = await this.accumulateSession;
    const feeds: Record<string, DeviceTensor> = {};
    for (const name of this.shapes.keys()) {
      feeds[`a.${name}`] = a.get(name)!;
      feeds[`b.${name}`] = b.get(name)!;
    }
    const out = (await s.runKeep(feeds, s.outputNames)).device;
    disposeAll(a);
    disposeAll(b);
    return new Map([...this.shapes.keys()].map((n) => [n, out[`sum.${n}`] as DeviceTensor<"float32">]));
  }

  /** Sum of squares over every gradient (float32 on the device, as the host's adds would be in float64). */
  async sumOfSquares(grads: DeviceMap): Promise<number> {
    const feeds: Record<string, DeviceTensor> = {};
    for (const name of this.shapes.keys()) feeds[`g.${name}`] = grads.get(name)!;
    return Number((await this.normSession.run(feeds, ["sumsq"])).sumsq.data[0]);
  }

  /** One AdamW step on the device (same formula as adamw.ts); writes the new parameters into `host` in place. */
  async step(grads: DeviceMap, state: AdamWState, lr: number, gradScale: number, host: Weights): Promise<void> {
    const t = state.step + 1;
    const feeds: Record<string, DeviceTensor | Tensor> = {
      keep: scalar(1 - lr * this.c.weightDecay),
      step_size: scalar(lr / (1 - this.c.beta1 ** t)),
      bc2_sqrt: scalar(Math.sqrt(1 - this.c.beta2 ** t)),
      grad_scale: scalar(gradScale),
    };
    for (const name of this.shapes.keys()) {
      feeds[`p.${name}`] = this.p.get(name)!;
      feeds[`g.${name}`] = grads.get(name)!;
      feeds[`m.${name}`] = this.m.get(name)!;
      feeds[`v.${name}`] = this.v.get(name)!;
    }
    const fetch = [...this.shapes.keys()].flatMap((n) => [`new_p.${n}`, `new_m.${n}`, `new_v.${n}`, `host_p.${n}`]);
    const { host: out, device } = await this.adamwSession.runKeep(feeds, fetch);
    state.step = t;
    const [p, m, v] = [this.p, this.m, this.v];
    this.p = new Map([...this.shapes.keys()].map((n) => [n, device[`new_p.${n}`] as DeviceTensor<"float32">]));
    this.m = new Map([...this.shapes.keys()].map((n) => [n, device[`new_m.${n}`] as DeviceTensor<"float32">]));
    this.v = new Map([...this.shapes.keys()].map((n) => [n, device[`new_v.${n}`] as DeviceTensor<"float32">]));
    for (const old of [p, m, v]) disposeAll(old);
    for (const name of this.shapes.keys()) host.get(name)!.data.set(out[`host_p.${name}`].data as Float32Array);
  }

  /** The AdamW moments copied to the host (for checkpoints and for a successor trainer). */
  async moments(): Promise<{ m: Weights; v: Weights }> {
    const down = async (src: DeviceMap): Promise<Weights> => {
      const out: Weights = new Map();
      for (const [name, t] of src) out.set(name, await this.transfer.download(t));
      return out;
    };
    return { m: await down(this.m), v: await down(this.v) };
  }

  async release(): Promise<void> {
    for (const s of [this.p, this.m, this.v]) disposeAll(s);
    await this.normSession.release();
    await this.adamwSession.release();
    if (this.accumulateSession) await (await this.accumulateSession).release();
    await this.transfer.release();
  }
}
