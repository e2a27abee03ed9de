// Seeded, reproducible randomness for sampling: xoroshiro128+ from pure-rand (a maintained PRNG library),
// 53-bit uniform doubles. `rngStreams(seed, n)` gives n independent streams (each 2^64 steps apart via
// xoroshiro's jump), one per sequence, so a sequence's draws depend only on (seed, its index) and not on
// how many tokens the other sequences in the batch consumed.
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { xoroshiro128plus, xoroshiro128plusFromState } from "pure-rand/generator/xoroshiro128plus";
import { type JumpableRandomGenerator } from "pure-rand/types/JumpableRandomGenerator";

export class SeedError extends Error {
  override name = "SeedError";
}

export interface Rng {
  /** Uniform in [0, 1), multiples of 2^-53. */
  float(): number;
  /** The generator's state, to checkpoint and restore with `rngFromState`. */
  state(): number[];
}

const MAX_SEED = 2 ** 32 - 1;

function checkSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw new SeedError(`seed must be an integer in [0, ${MAX_SEED}], got ${seed}`);
  }
}

class XoroRng implements Rng {
  constructor(private readonly g: JumpableRandomGenerator) {}
  float(): number {
    return uniformFloat64(this.g);
  }
  state(): number[] {
    return [...this.g.getState()];
  }
}

export function createRng(seed: number): Rng {
  checkSeed(seed);
  return new XoroRng(xoroshiro128plus(seed));
}

export function rngFromState(state: readonly number[]): Rng {
  if (state.length !== 4 || !state.every((x) => Number.isInteger(x))) {
    throw new SeedError(`rng state must be 4 integers (from Rng.state()), got ${JSON.stringify(state)}`);
  }
  return new XoroRng(xoroshiro128plusFromState(state));
}

/** `n` independent streams from one seed: stream i starts i jumps (i * 2^64 steps) into the sequence. */
export function rngStreams(seed: number, n: number): Rng[] {
  checkSeed(seed);
  const g = xoroshiro128plus(seed);
  const out: Rng[] = [];
  for (let i = 0; i < n; i++) {
    out.push(new XoroRng(g.clone()));
    g.jump();
  }
  return out;
}
