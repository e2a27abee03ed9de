// Our side of bench/decode.ts: greedy generation through generate() (the loop the rollout actor runs) on an
// OnnxDecoder with the KV cache in place ("in-place", the default) or concatenated each step ("concat", the
// decomposed graph before issue 22). No stop tokens, so random weights run every row the full length.
import { type LlamaConfig, OnnxDecoder, type Weights, generate } from "@lspo/model";
import { type Generation, type Step, generationOf } from "./decode-timing.js";

export type OurEngine = "in-place" | "concat";

export function ourDecoder(cfg: LlamaConfig, w: Weights, kvCache: OurEngine, threads: number): Promise<OnnxDecoder> {
  return OnnxDecoder.create(cfg, w, { threads, kvCache });
}

export interface OurGeneration {
  generation: Generation;
  steps: Step[];
  tokens: number[][];
}

export async function timeOurs(decoder: OnnxDecoder, prompts: number[][], newTokens: number): Promise<OurGeneration> {
  const steps: Step[] = [];
  const rows = new Set<number>();
  const t0 = performance.now();
  const r = await generate(decoder, prompts, {
    maxNewTokens: newTokens, stopTokenIds: [], onStep: (e) => (steps.push({ P: e.P, seconds: e.seconds }), rows.add(e.B)),
  });
  const seconds = (performance.now() - t0) / 1000;
  // Every row runs the whole length (no stop tokens), so no step may have run on fewer rows.
  if (rows.size !== 1 || !rows.has(prompts.length)) throw new Error(`steps ran on [${[...rows]}] rows, expected ${prompts.length} throughout`);
  return { generation: generationOf(prompts.length, newTokens, seconds, steps), steps, tokens: r.tokens };
}
