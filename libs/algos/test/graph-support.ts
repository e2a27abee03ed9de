// Runs the graph form through onnxruntime: pads a ragged LossInput to [N, T], builds loss + metrics and
// d loss/d logp, d loss/d entropy with libs/model's autodiff, and returns them ragged again.
import { type FloatDType, Graph, OrtSession, type Tensor, type Value, backward, encodeModel } from "@lspo/model";
import { type AlgorithmParams, buildGraphLoss, type LossInput, type UpdateMetrics } from "../src/index.js";

export interface GraphRun {
  loss: number;
  gradLogp: number[][];
  gradEntropy: number[][] | null;
  metrics: UpdateMetrics;
}

const METRICS = ["clip_frac_low", "clip_frac_high", "clip_frac_dual", "approx_kl", "ref_kl", "mean_abs_advantage", "entropy", "tokens", "responses"] as const;

/** A compiled loss graph for fixed params and input presence; run it on any batch with those inputs. */
export class GraphLossRunner {
  private constructor(
    private readonly session: OrtSession,
    private readonly dtype: FloatDType,
    private readonly withRef: boolean,
    private readonly withEntropy: boolean,
  ) {}

  static async create(p: AlgorithmParams, o: { dtype?: FloatDType; ref: boolean; entropy: boolean }): Promise<GraphLossRunner> {
    const dtype = o.dtype ?? "float64";
    const g = new Graph("algos_loss");
    const inp = (name: string) => g.input(name, dtype, ["N", "T"]);
    const logp = inp("logp");
    const entropy = o.entropy ? inp("entropy") : null;
    const x = {
      logp,
      logpOld: inp("logp_old"),
      logpRef: o.ref ? inp("logp_ref") : null,
      entropy,
      mask: inp("mask"),
      advantages: g.input("advantages", dtype, ["N"]),
    };
    const { loss, metrics } = buildGraphLoss(p, x);
    const wrt: Value[] = entropy ? [logp, entropy] : [logp];
    const grads = backward(loss, wrt);
    g.output("loss", loss);
    g.output("grad_logp", grads[0]);
    if (entropy) g.output("grad_entropy", grads[1]);
    for (const k of METRICS) {
      const v = metrics[k];
      if (v) g.output(`metric_${k}`, v);
    }
    const session = await OrtSession.create(encodeModel(g), { threads: 1 });
    return new GraphLossRunner(session, dtype, o.ref, o.entropy);
  }

  async run(x: LossInput): Promise<GraphRun> {
    const n = x.logp.length;
    const t = Math.max(...x.logp.map((r) => r.length));
    const Arr = this.dtype === "float64" ? Float64Array : Float32Array;
    // Padding positions: value 0, mask 0.
    const pad = (rows: number[][]): Tensor => {
      const data = new Arr(n * t);
      rows.forEach((row, i) => row.forEach((v, j) => (data[i * t + j] = v)));
      return { dtype: this.dtype, shape: [n, t], data } as Tensor;
    };
    const feeds: Record<string, Tensor> = {
      logp: pad(x.logp),
      logp_old: pad(x.logpOld),
      mask: pad(x.mask),
      advantages: { dtype: this.dtype, shape: [n], data: Arr.from(x.advantages) } as Tensor,
    };
    if (this.withRef) feeds.logp_ref = pad(x.logpRef!);
    if (this.withEntropy) feeds.entropy = pad(x.entropy!);
    const out = await this.session.run(feeds);
    const unpad = (tensor: Tensor) => x.logp.map((row, i) => row.map((_, j) => Number(tensor.data[i * t + j])));
    const scalar = (name: string) => (out[name] ? Number(out[name].data[0]) : null);
    const metrics = Object.fromEntries(METRICS.map((k) => [k, scalar(`metric_${k}`)])) as unknown as UpdateMetrics;
    return {
      loss: Number(out.loss.data[0]),
      gradLogp: unpad(out.grad_logp),
      gradEntropy: out.grad_entropy ? unpad(out.grad_entropy) : null,
      metrics,
    };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
