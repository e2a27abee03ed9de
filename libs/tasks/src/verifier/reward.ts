// Reward schemes: what a correct and a wrong answer are worth. DAPO's paper uses +1/-1; 0/1 is the
// other common choice (docs ALGORITHMS.md). A table, so a new scheme is one row.

export interface RewardScheme {
  correct: number;
  wrong: number;
}

export const REWARD_SCHEMES = {
  "zero-one": { correct: 1, wrong: 0 },
  "plus-minus-one": { correct: 1, wrong: -1 },
} as const satisfies Record<string, RewardScheme>;

export type RewardSchemeName = keyof typeof REWARD_SCHEMES;

export function rewardScheme(name: string): RewardScheme {
  const scheme = (REWARD_SCHEMES as Record<string, RewardScheme>)[name];
  if (!scheme) {
    throw new Error(`unknown reward scheme '${name}'. Valid schemes: ${Object.keys(REWARD_SCHEMES).join(", ")}`);
  }
  return scheme;
}
