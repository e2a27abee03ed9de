// Difficulty levels of the synthetic task, as data. A problem starts with a count ("has 47.") and applies
// 1-3 operations ("gets 38.", "loses 15.", "doubles.", "triples."); higher levels have more steps and
// bigger numbers, hence more carries, more sub-results, and longer worked solutions.
// Sizes are chosen so a prompt is at most 40 characters and a solution at most ~65 (tests check both).

export type OpName = "gets" | "loses" | "doubles" | "triples";

export interface Level {
  /** Inclusive range of the number of operations. */
  steps: readonly [number, number];
  /** Inclusive range of the starting count. */
  start: readonly [number, number];
  /** Inclusive range of the operand of "gets"/"loses". */
  operand: readonly [number, number];
  ops: readonly OpName[];
}

export const LEVELS: Readonly<Record<number, Level>> = {
  // one addition or subtraction: "has 12. gets 7. now?" (about 1,700 distinct problems)
  1: { steps: [1, 1], start: [1, 50], operand: [1, 20], ops: ["gets", "loses"] },
  // up to two steps, numbers to 50, doubling
  2: { steps: [1, 2], start: [1, 50], operand: [1, 30], ops: ["gets", "loses", "doubles"] },
  // up to three steps, two-digit numbers, tripling
  3: { steps: [1, 3], start: [1, 99], operand: [1, 99], ops: ["gets", "loses", "doubles", "triples"] },
  // always at least two steps with two-digit operands: carries and sub-results in most lines
  4: { steps: [2, 3], start: [10, 99], operand: [10, 99], ops: ["gets", "loses", "doubles", "triples"] },
};

export const LEVEL_NUMBERS = Object.keys(LEVELS).map(Number);

export function level(n: number): Level {
  const l = LEVELS[n];
  if (!l) throw new RangeError(`unknown synthetic difficulty ${n}; valid levels: ${LEVEL_NUMBERS.join(", ")}`);
  return l;
}
