// Part 3 of bench/decode.ts: a rollout actor's workload, G samples of each of a call's prompts, sampled at T = 1
// with a seed, responses ending on a stop token, so their lengths are mixed as RL responses are (random weights
// give near-uniform logits: with S stop ids of V, a response stops at each token with chance about S / V, so its
// length is roughly geometric with mean V / S, cut at maxNewTokens). The same sequences two ways, in one run:
// - "before issue 22": the concat decoder in consecutive batches of `rows` sequences (what a rollout actor did
//   with promptsPerCall x G = rows: one generate() call per batch, finished rows dropped once half the batch
//   had finished, the batch held until its longest response ended);
// - "in-place + continuous": the in-place decoder with generate()'s maxRows = rows over all the sequences (a
//   finished row goes to the next waiting sequence).
// Both use generate()'s rng stream per sequence (the batches path slices the same streams), so both draw the
// same responses, up to float rounding of different batch shapes (the bench counts the identical ones).
// Row occupancy = tokens sampled in decode steps / rows stepped: the share of the rows each step computes that
// belong to a live sequence (a finished row that still sits in its batch is computed for nothing).
import { type OnnxDecoder, generate } from "@lspo/model";
import { xorshift32 } from "./decode-models.js";

export interface RolloutWorkload {
  prompts: number;
  groupSize: number;
  rows: number;
  maxNewTokens: number;
  stopIds: number;
  promptLengths: [number, number];
  runs: number;
}

export interface RolloutGeneration {
  seconds: number;
  tokens: number;
  tokensPerS: number;
  decodeSteps: number;
  rowsStepped: number;
  rowOccupancy: number;
  lengths: number[];
  sequences: number[][];
}

/** The call's sequences: `prompts` seeded prompts of lengths in promptLengths, each repeated G times. */
export function rolloutSequences(w: RolloutWorkload, vocab: number, seed: number): number[][] {
  const next = xorshift32(seed);
  const [lo, hi] = w.promptLengths;
  const out: number[][] = [];
  for (let p = 0; p < w.prompts; p++) {
    const ids = Array.from({ length: lo + (next() % (hi - lo + 1)) }, () => w.stopIds + 2 + (next() % (vocab - w.stopIds - 2)));
    for (let g = 0; g < w.groupSize; g++) out.push(ids);
  }
  return out;
}

/** Stop ids 2 .. 2 + stopIds - 1 (0 and 1 are pad and eos in the bench's configs; prompts avoid them). */
export const stopIdsOf = (w: RolloutWorkload) => Array.from({ length: w.stopIds }, (_, i) => 2 + i);

export async function timeRollout(decoder: OnnxDecoder, seqs: number[][], w: RolloutWorkload, seed: number): Promise<RolloutGeneration> {
  let decodeSteps = 0, rowsStepped = 0;
  const t0 = performance.now();
  const r = await generate(decoder, seqs, {
    maxNewTokens: w.maxNewTokens, sampling: { temperature: 1, topK: 0, topP: 1 }, seed, stopTokenIds: stopIdsOf(w), maxRows: w.rows,
    onStep: (e) => {
      if (e.P === 0) return;
      decodeSteps++;
      rowsStepped += e.B;
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  const lengths = r.tokens.map((t) => t.length);
  const tokens = lengths.reduce((a, b) => a + b, 0);
  // Each sequence's first token comes from its prompt's prefill; every later one from a decode step's row.
  return { seconds, tokens, tokensPerS: tokens / seconds, decodeSteps, rowsStepped, rowOccupancy: (tokens - seqs.length) / rowsStepped, lengths, sequences: r.tokens };
}
