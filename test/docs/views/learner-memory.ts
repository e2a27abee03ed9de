// bench/results/learner-memory.json (npm run bench -- learner-memory): docs/BENCHMARKS.md, "Learner memory".
// Each variant's measured peak beside the memory model's estimate, recorded by the bench from the code it ran.
import type { View } from "./view.js";

interface Variant {
  name: string;
  pass: "train" | "logprobs";
  peakRssMiB: number;
  medianStepS: number;
  estimateMiB: number;
}
interface LearnerMemory {
  model: { parameters: number };
  batch: { rows: number; promptTokens: number; responseTokens: number; threads: number };
  variants: Variant[];
}

const gib = (mib: number) => `${(mib / 1024).toFixed(2)} GiB`;
const byName = (d: LearnerMemory, start: string) => {
  const v = d.variants.find((x) => x.name.startsWith(start));
  if (!v) throw new TypeError(`no variant named '${start}...'`);
  return v;
};

export const views: Record<string, View> = {
  variants: (d: LearnerMemory) => ({
    table: [
      ["pass", "peak RSS", "memory model", "estimate / measured", "median pass"],
      ...d.variants.map((v) => [v.name, gib(v.peakRssMiB), gib(v.estimateMiB), (v.estimateMiB / v.peakRssMiB).toFixed(2), `${v.medianStepS.toFixed(2)} s`]),
    ],
  }),
  savings: (d: LearnerMemory) => {
    const pattern = byName(d, "every position scored, onnxruntime's memory pattern on");
    const all = d.variants.find((x) => x.name === "every position scored")!;
    const scored = byName(d, "responses scored");
    const re = byName(d, "responses scored + recompute");
    const whole = byName(d, "log-prob pass, whole");
    const chunked = byName(d, "log-prob pass, vocabChunk");
    const pct = (a: Variant, b: Variant) => `${Math.round((100 * (a.peakRssMiB - b.peakRssMiB)) / a.peakRssMiB)}%`;
    return {
      quotes: [
        `${(d.model.parameters / 1e6).toFixed(1)}M parameters`,
        `memory pattern off: ${pct(pattern, all)} lower`,
        `${d.batch.rows} rows of ${d.batch.promptTokens} + ${d.batch.responseTokens} tokens`,
        `responses only: ${pct(all, scored)} lower`,
        `recompute: ${pct(scored, re)} lower again`,
        `${(re.medianStepS / scored.medianStepS).toFixed(2)}x the step time`,
        `vocabulary chunks: ${pct(whole, chunked)} lower`,
      ],
    };
  },
};
