// One timed generation as bench/decode.ts records it, for every engine alike (ours through generate()'s
// onStep, PyTorch's peer from its own per-step clock): the wall clock of the whole generation, tokens/s over
// it, and its decoder steps by P (cache positions before the step; 0 is the prefill).
import { summarize } from "./stats.js";

export interface Step {
  P: number;
  seconds: number;
}

export interface Generation {
  /** Wall clock of the whole generation: prefill, every decode step, sampling, the cache's bookkeeping. */
  seconds: number;
  /** B x new tokens / seconds. */
  tokensPerS: number;
  prefillSeconds: number;
  /** Median of the one-token decode steps. */
  decodeStepMedianSeconds: number;
  /** Sum of the decoder steps (prefill included): what `seconds` spends outside them is the loop's own. */
  stepSecondsTotal: number;
}

export function generationOf(B: number, newTokens: number, seconds: number, steps: readonly Step[]): Generation {
  const decode = steps.filter((s) => s.P > 0).map((s) => s.seconds);
  if (steps.length !== newTokens || decode.length !== newTokens - 1) {
    throw new Error(`a generation of ${newTokens} tokens reported ${steps.length} steps (${decode.length} after the prefill)`);
  }
  return {
    seconds,
    tokensPerS: (B * newTokens) / seconds,
    prefillSeconds: steps.find((s) => s.P === 0)!.seconds,
    decodeStepMedianSeconds: decode.length ? summarize(decode).median : 0,
    stepSecondsTotal: steps.reduce((a, s) => a + s.seconds, 0),
  };
}

/** Step times of the decode steps with P in [from, to). */
export function windowOf(steps: readonly Step[], from: number, to: number): number[] {
  const w = steps.filter((s) => s.P >= from && s.P < to).map((s) => s.seconds);
  if (w.length !== to - from) throw new Error(`steps at P in [${from}, ${to}): found ${w.length}, expected ${to - from}`);
  return w;
}

/** Median decode step per `width` positions (the prefill left out), to show how a step grows with the cache. */
export function profileOf(steps: readonly Step[], width: number): { from: number; medianSeconds: number }[] {
  const buckets = new Map<number, number[]>();
  for (const s of steps) {
    if (s.P === 0) continue;
    const from = Math.floor(s.P / width) * width;
    buckets.set(from, [...(buckets.get(from) ?? []), s.seconds]);
  }
  return [...buckets].sort((a, b) => a[0] - b[0]).map(([from, xs]) => ({ from, medianSeconds: summarize(xs).median }));
}
