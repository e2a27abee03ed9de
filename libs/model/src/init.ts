// Fresh random weights for a Llama-family config, initialised as transformers' `_init_weights` does for
// these models: every Linear and the embedding ~ N(0, initializer_range), biases 0, RMSNorm weights 1
// (q/k norms included). Reproducible from a seed.
import { type LlamaConfig } from "./config.js";
import { validateLlamaConfig } from "./hf/config-json.js";
import { expectedParameters } from "./hf/params.js";
import { createUnmixedRng } from "./sampling/rng.js";
import { type Weights, numel } from "./tensor.js";

export interface InitOptions {
  /** Standard deviation of the normal init (transformers' `initializer_range`, 0.02 by default). */
  initializerRange?: number;
}

/** Which init each parameter gets, by the last part of its name. */
const INIT_RULES: Array<[RegExp, "normal" | "zeros" | "ones"]> = [
  [/(layernorm|_norm|\.norm)\.weight$/, "ones"],
  [/\.bias$/, "zeros"],
  [/\.weight$/, "normal"],
];

export function initModel(config: LlamaConfig, seed: number, options: InitOptions = {}): Weights {
  validateLlamaConfig(config);
  const std = options.initializerRange ?? 0.02;
  if (!(std > 0)) throw new Error(`initializerRange must be positive, got ${std}`);
  const rng = createUnmixedRng(seed); // unmixed: the weights a seed gives (and fixtures made from them) stay put
  const weights: Weights = new Map();
  for (const [name, shape] of expectedParameters(config)) {
    const rule = INIT_RULES.find(([re]) => re.test(name))?.[1];
    if (!rule) throw new Error(`initModel: no init rule for parameter '${name}'`);
    const data = new Float32Array(numel(shape));
    if (rule === "ones") data.fill(1);
    else if (rule === "normal") {
      // Box-Muller, both outputs used; 1 - u keeps log() away from 0.
      for (let i = 0; i < data.length; i += 2) {
        const r = Math.sqrt(-2 * Math.log(1 - rng.float()));
        const a = 2 * Math.PI * rng.float();
        data[i] = std * r * Math.cos(a);
        if (i + 1 < data.length) data[i + 1] = std * r * Math.sin(a);
      }
    }
    weights.set(name, { dtype: "float32", shape: [...shape], data });
  }
  return weights;
}
