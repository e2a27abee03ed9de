// Are two answers the same answer? In order: canonical strings equal; both exact numbers (BigInt
// rationals) and equal; both lists (tuples, intervals, sets) with equivalent items; the CAS shows
// their difference simplifies to 0. Division by a literal zero on either side is never equal.

import { normalizeAnswer } from "./normalize.js";
import { dividesByZero, parseNumber } from "./numbers.js";
import { rationalEquals } from "./rational.js";
import { type ListAnswer, splitList, unwrapParentheses } from "./lists.js";
import type { SymbolicChecker } from "./symbolic.js";

export interface EquivalenceOptions {
  /** The CAS used for non-numeric answers; undefined compares them as strings/numbers/lists only. */
  symbolic: SymbolicChecker | undefined;
  /**
   * Total CAS time for one comparison, in ms (default 2500). Lists multiply CAS calls (a 64-item set is
   * up to 64² of them), so the per-call limits alone do not bound a comparison; this does.
   */
  timeBudgetMs?: number;
}

export const DEFAULT_TIME_BUDGET_MS = 2500;

interface Context extends EquivalenceOptions {
  /** performance.now() past which no CAS call starts. */
  deadline: number;
}

export type Comparison = "string" | "number" | "list" | "symbolic" | "none";

export interface Equivalence {
  equal: boolean;
  /** Which comparison decided. */
  by: Comparison;
}

const NOT_EQUAL: Equivalence = { equal: false, by: "none" };
/** Lists nest (intervals of tuples...); real answers need two levels, so four is plenty. */
const MAX_LIST_DEPTH = 4;
/** Unordered matching is quadratic in the item count. */
const MAX_LIST_ITEMS = 64;

function listsEqual(a: ListAnswer, b: ListAnswer, options: Context, depth: number): boolean {
  if (a.open !== b.open || a.close !== b.close || a.items.length !== b.items.length) return false;
  if (a.items.length > MAX_LIST_ITEMS) return false;
  if (!a.unordered) return a.items.every((item, i) => compareCanonical(item, b.items[i], options, depth + 1).equal);
  const used = new Array<boolean>(b.items.length).fill(false);
  return a.items.every((item) => {
    const j = b.items.findIndex((other, k) => !used[k] && compareCanonical(item, other, options, depth + 1).equal);
    if (j < 0) return false;
    used[j] = true;
    return true;
  });
}

function compareCanonical(a: string, b: string, options: Context, depth: number): Equivalence {
  a = unwrapParentheses(a);
  b = unwrapParentheses(b);
  if (a === "" || b === "") return NOT_EQUAL;
  const na = parseNumber(a);
  const nb = parseNumber(b);
  if (na.kind === "invalid" || nb.kind === "invalid" || dividesByZero(a) || dividesByZero(b)) return NOT_EQUAL;
  if (na.kind === "number" && nb.kind === "number") return { equal: rationalEquals(na.value, nb.value), by: "number" };
  if (a === b) return { equal: true, by: "string" };
  const la = depth < MAX_LIST_DEPTH ? splitList(a) : undefined;
  const lb = depth < MAX_LIST_DEPTH ? splitList(b) : undefined;
  if (la || lb) return { equal: !!la && !!lb && listsEqual(la, lb, options, depth), by: "list" };
  const left = options.deadline - performance.now();
  if (left > 0 && options.symbolic?.equal(a, b, left) === true) return { equal: true, by: "symbolic" };
  return NOT_EQUAL;
}

/** Compares two extracted answers (not whole responses). Never throws. */
export function answersEquivalent(a: string, b: string, options: EquivalenceOptions): Equivalence {
  try {
    const deadline = performance.now() + (options.timeBudgetMs ?? DEFAULT_TIME_BUDGET_MS);
    return compareCanonical(normalizeAnswer(a), normalizeAnswer(b), { ...options, deadline }, 0);
  } catch {
    return NOT_EQUAL; // a bug in a rule must cost one reward, not the run
  }
}
