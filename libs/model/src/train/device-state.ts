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
import { adamwGraph, adamwGroups } from "./adamw-graph.js";

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
    /** AdamW a group of parameters at a time (adamwGroups): one group's new state beside the old, never all. */
    private readonly adamwSessions: { names: string[]; session: OrtSession }[],
    private p: DeviceMap,
    private m: DeviceMap,
    private v: DeviceMap,
  ) {}

  static async create(weights: Weights, state: AdamWState, c: AdamWConfig, options: SessionOptions, groupFloats?: number): Promise<DeviceTrainState> {
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
    const transfer = new DeviceTransfer(options.provider ?? "cpu", options.threads);
    const adamw = adamwGroups(weights, groupFloats).map(async (names) => {
      const kept = names.flatMap((n) => [`new_p.${n}`, `new_m.${n}`, `new_v.${n}`]);
      const graph = adamwGraph(new Map(names.map((n) => [n, weights.get(n)!])), c, { hostCopy: true });
      return { names, session: await OrtSession.create(encodeModel(graph), { ...options, keepOnDevice: kept }) };
    });
    const [normSession, ...adamwSessions] = await Promise.all([OrtSession.create(encodeModel(norm), options), ...adamw]);
    return new DeviceTrainState(c, shapes, options, transfer, normSession as OrtSession, adamwSessions as { names: string[]; session: OrtSession }[],
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
    for (const { names, session } of this.adamwSessions) {
      const feeds: Record<string, DeviceTensor | Tensor> = {
        keep: scalar(1 - lr * this.c.weightDecay),
        step_size: scalar(lr / (1 - this.c.beta1 ** t)),
        bc2_sqrt: scalar(Math.sqrt(1 - this.c.beta2 ** t)),
        grad_scale: scalar(gradScale),
      };
      for (const name of names) {
        feeds[`p.${name}`] = this.p.get(name)!;
        feeds[`g.${name}`] = grads.get(name)!;
        feeds[`m.${name}`] = this.m.get(name)!;
        feeds[`v.${name}`] = this.v.get(name)!;
      }
      const fetch = names.flatMap((n) => [`new_p.${n}`, `new_m.${n}`, `new_v.${n}`, `host_p.${n}`]);
      const { host: out, device } = await session.runKeep(feeds, fetch);
      // This group's old state goes now, before the next group's new state is made.
      for (const name of names) {
        for (const [map, key] of [[this.p, "new_p"], [this.m, "new_m"], [this.v, "new_v"]] as const) {
          map.get(name)!.dispose();
          map.set(name, device[`${key}.${name}`] as DeviceTensor<"float32">);
        }
        host.get(name)!.data.set(out[`host_p.${name}`].data as Float32Array);
      }
    }
    state.step = t;
  }

  /** How many groups the update runs in. */
  get groups(): number {
    return this.adamwSessions.length;
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
    for (const s of this.adamwSessions) await s.session.release();
    if (this.accumulateSession) await (await this.accumulateSession).release();
    await this.transfer.release();
  }
}
