// Every way a group can leave the sampler, as one table: whether it is kept, and why.
import type { Group } from "./group.js";

export const OUTCOMES = {
  short: { kept: true, doc: "L <= Q(lLow)" },
  long: { kept: true, doc: "Q(lHigh) <= L <= Q(lMax)" },
  unfiltered: { kept: true, doc: "survivor kept with the length filter off (lengthFilter: false)" },
  "warm-up-kept": { kept: true, doc: "survivor kept unjudged while the window warms up (warmup: 'accept')" },
  "all-correct": { kept: false, doc: "all rewards equal, and the group was right (accuracy filter)" },
  "all-wrong": { kept: false, doc: "all rewards equal, and the group was wrong (accuracy filter)" },
  "middle-length": { kept: false, doc: "Q(lLow) < L < Q(lHigh)" },
  "too-long": { kept: false, doc: "L > Q(lMax)" },
  "warm-up-rejected": { kept: false, doc: "survivor dropped while the window warms up (warmup: 'reject')" },
  duplicate: { kept: false, doc: "uid offered before; not judged again" },
} as const satisfies Record<string, { kept: boolean; doc: string }>;

export type Outcome = keyof typeof OUTCOMES;
export const outcomeNames = Object.keys(OUTCOMES) as Outcome[];

/** The sampler's verdict on one offered group. */
export interface Decision {
  readonly uid: string;
  readonly kept: boolean;
  readonly outcome: Outcome;
  /** L(q), the group's mean response length in tokens. */
  readonly length: number;
}

export type OutcomeCounts = Record<Outcome, number>;

export function zeroCounts(): OutcomeCounts {
  return Object.fromEntries(outcomeNames.map((n) => [n, 0])) as OutcomeCounts;
}

export function decision(g: Group, outcome: Outcome, length: number): Decision {
  return { uid: g.uid, kept: OUTCOMES[outcome].kept, outcome, length };
}
