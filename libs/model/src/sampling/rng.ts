// Seeded, reproducible randomness for sampling: xoroshiro128+ from pure-rand (a maintained PRNG library),
// 53-bit uniform doubles. `rngStreams(seed, n)` gives n independent streams (each 2^64 steps apart via
// xoroshiro's jump), one per sequence, so a sequence's draws depend only on (seed, its index) and not on
// how many tokens the other sequences in the batch consumed.
// The seed is mixed by splitmix64 into the 128-bit state (as the xoroshiro authors recommend): pure-rand's
// own seeding puts ~seed straight into the first output, so nearby seeds (one per prompt batch) gave
// nearly the same first draws.
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

const MASK64 = (1n << 64n) - 1n;

/** splitmix64 (Steele, Lea, Flood 2014): the state after `x`'s step and its output. */
function splitmix64(x: bigint): { state: bigint; out: bigint } {
  const state = (x + 0x9e3779b97f4a7c15n) & MASK64;
  let z = state;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return { state, out: z ^ (z >> 31n) };
}

/** xoroshiro128+ with its two 64-bit words from two splitmix64 outputs of the seed. */
function mixedGenerator(seed: number): JumpableRandomGenerator {
  const a = splitmix64(BigInt(seed));
  const b = splitmix64(a.state);
  const hi = (x: bigint) => Number(BigInt.asIntN(32, x >> 32n));
  const lo = (x: bigint) => Number(BigInt.asIntN(32, x));
  // pure-rand's state order is [s0.hi, s0.lo, s1.hi, s1.lo]. Two splitmix64 outputs are never both 0
  // (splitmix64 is a bijection of its step counter), so the all-zero state xoroshiro forbids cannot occur.
  return xoroshiro128plusFromState([hi(a.out), lo(a.out), hi(b.out), lo(b.out)]);
}

export function createRng(seed: number): Rng {
  checkSeed(seed);
  return new XoroRng(mixedGenerator(seed));
}

/**
 * pure-rand's own seeding, unmixed. Only for model initialisation (init.ts): weights made from a seed, and
 * the checkpoints and fixtures derived from them, stay what they were. Sampling uses the mixed seeds.
 */
export function createUnmixedRng(seed: number): Rng {
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
  const g = mixedGenerator(seed);
  const out: Rng[] = [];
  for (let i = 0; i < n; i++) {
    out.push(new XoroRng(g.clone()));
    g.jump();
  }
  return out;
}
