// bench/results/gemm-ceiling.json (npm run bench -- gemm-ceiling): docs/BENCHMARKS.md, "Decode (issue 22)",
// "What bounds a step: the weight products".
import { fixed, grouped, spread, type Spread } from "../support/format.js";
import type { View } from "./view.js";

interface Row {
  model: string;
  batch: number;
  productsFedMs: Spread;
  productsWeightFirstMs: Spread;
  productsPrepackedMs: Spread;
  fedGflops: Spread;
  weightFirstGflops: Spread;
  prepackedGflops: Spread;
  weightFirstSpeedup: Spread;
  prepackedSpeedup: Spread;
  tokensPerSWeightFirst: Spread;
  slotStepMs: Spread | null;
  goal: { atLeast: number; tokensPerS: number; stepBudgetMs: number } | null;
}
interface GemmCeiling {
  rows: Row[];
  decodeReference: { label: string; torchTokensPerS: Record<string, number> } | null;
}

const ms = (s: Spread) => spread(s, (x) => fixed(x, 2));
const rate = (s: Spread) => spread(s, (x) => grouped(x));

export const views: Record<string, View> = {
  products: (d: GemmCeiling) => ({
    table: [
      ["model", "batch", "weight products, fed (ms per step)", "weight first (ms per step)", "prepacked (ms per step)", "GFLOP/s, fed / weight first / prepacked", "weight first speed-up", "prepacked speed-up", "our whole in-place step, 128 slots (ms)", "tokens/s bound by the weight-first products alone", "the goal: x PyTorch, tokens/s", "a step at the goal (ms)"],
      ...d.rows.map((r) => {
        return [
          r.model, String(r.batch), ms(r.productsFedMs), ms(r.productsWeightFirstMs), ms(r.productsPrepackedMs),
          `${fixed(r.fedGflops.median, 0)} / ${fixed(r.weightFirstGflops.median, 0)} / ${fixed(r.prepackedGflops.median, 0)}`,
          spread(r.weightFirstSpeedup, (x) => `${fixed(x, 2)}x`),
          spread(r.prepackedSpeedup, (x) => `${fixed(x, 2)}x`),
          r.slotStepMs ? ms(r.slotStepMs) : "not timed",
          rate(r.tokensPerSWeightFirst),
          r.goal ? `${fixed(r.goal.atLeast, 1)}x: ${grouped(r.goal.tokensPerS)}` : "no goal",
          r.goal ? fixed(r.goal.stepBudgetMs, 2) : "no goal",
        ];
      }),
    ],
  }),
  reference: (d: GemmCeiling) => {
    if (!d.decodeReference) throw new TypeError("the artifact has no decodeReference");
    return { quotes: [d.decodeReference.label] };
  },
};
