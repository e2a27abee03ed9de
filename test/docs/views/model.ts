// bench/results/model.json (npm run bench -- model): docs/BENCHMARKS.md, "Model engine".
import { grouped, times } from "../support/format.js";
import type { View } from "./view.js";
import { learnerMemory, type LlamaConfig } from "@lspo/model";

interface ModelConfig {
  params: number;
  config: { vocabSize: number; hiddenSize: number; numLayers: number; numHeads: number; numKvHeads: number; intermediateSize: number };
  train: { batch: number; seq: number };
  decode_tokens_per_s: Record<string, number>;
  learner: { tokens_per_s: number; forward_backward_s: number; adamw_s: number; peak_rss_mb: number; rss_mb_per_m_params: number };
  pytorch: { tokens_per_s: number };
  learner_over_pytorch: number;
  adamw: { js_ms: number; onnx_ms: number };
}
type Model = { configs: Record<string, ModelConfig> };

const each = (d: Model, f: (name: string, c: ModelConfig) => string[]) => Object.entries(d.configs).map(([n, c]) => f(n, c));
const tokensPerS = (x: number) => `${grouped(x, " ")} tokens/s`;
const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`;
const batch = (c: ModelConfig) => `${c.train.batch} x ${c.train.seq}`;

export const views: Record<string, View> = {
  configs: (d: Model) => ({
    table: [
      ["name", "params", "vocab", "D", "layers", "heads / kv heads", "MLP"],
      ...each(d, (n, c) => [n, `${(c.params / 1e6).toFixed(2)}M`, `${c.config.vocabSize}`, `${c.config.hiddenSize}`, `${c.config.numLayers}`, `${c.config.numHeads} / ${c.config.numKvHeads}`, `${c.config.intermediateSize}`]),
    ],
  }),
  decode: (d: Model) => ({
    table: [
      ["model", "batch 1", "batch 16", "batch 64"],
      ...each(d, (n, c) => [n, ...["batch_1", "batch_16", "batch_64"].map((b) => tokensPerS(c.decode_tokens_per_s[b]))]),
    ],
  }),
  learner: (d: Model) => ({
    table: [
      ["model", "batch", "ours", "PyTorch 1.13 eager", "ours / PyTorch", "of our step: fwd+bwd / AdamW"],
      ...each(d, (n, c) => [n, batch(c), tokensPerS(c.learner.tokens_per_s), tokensPerS(c.pytorch.tokens_per_s), times(c.learner_over_pytorch, 2), `${ms(c.learner.forward_backward_s)} / ${ms(c.learner.adamw_s)}`]),
    ],
  }),
  rss: (d: Model) => ({
    table: [
      ["model", "batch", "peak RSS", "per million parameters"],
      ...each(d, (n, c) => [n, batch(c), `${grouped(c.learner.peak_rss_mb, " ")} MB`, `${c.learner.rss_mb_per_m_params.toFixed(0)} MB`]),
    ],
  }),
  /** The learner's memory model (libs/model memory.ts) from each config beside the peak measured. */
  memory: (d: Model) => ({
    table: [
      ["model", "batch", "estimate", "measured peak RSS", "estimate / measured"],
      ...each(d, (n, c) => {
        // The bench keeps the weights it hands the trainer (which copies them): one copy more than the learner.
        const e = learnerMemory(c.config as unknown as LlamaConfig, { rows: c.train.batch, seq: c.train.seq, weightCopies: 1 }).bytes / 2 ** 20;
        return [n, batch(c), `${grouped(Math.round(e), " ")} MB`, `${grouped(c.learner.peak_rss_mb, " ")} MB`, (e / c.learner.peak_rss_mb).toFixed(2)];
      }),
    ],
  }),
  adamw: (d: Model) => ({
    table: [["model", "JS loop", "ONNX graph"], ...each(d, (n, c) => [n, `${c.adamw.js_ms.toFixed(0)} ms`, `${c.adamw.onnx_ms.toFixed(0)} ms`])],
  }),
};
