// Small builders for tests: groups with a chosen mean length and accuracy.
import type { Group } from "@lspo/lspo";

/** A group of G = 2 responses with mean length L (lengths L-1 and L+1) and mixed rewards. */
export function mixed(uid: string, L: number): Group {
  return { uid, lengths: [L - 1, L + 1], rewards: [1, 0] };
}

/** A group whose rewards are all equal: 1 (all correct) or 0 (all wrong). */
export function allEqual(uid: string, reward: 0 | 1, L = 10): Group {
  return { uid, lengths: [L, L], rewards: [reward, reward] };
}

/** A deterministic PRNG for synthetic streams (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
