// Are two answers the same answer? In order (each step in a small file of its own):
//   1. a malformed number (`2 3`) or a division by a literal zero on either side: never equal;
//   2. both exact numbers (BigInt rationals): equal exactly, or a decimal that is the other's rounding
//      (tolerance.ts); a decimal comma (`1000,99`) is read only against a decimal with a point;
//   3. identical canonical strings;
//   4. relations (relations.ts): same relation after flipping, sides equal, or proportional through the
//      CAS (`2x+4y-3=0` is `y=-\frac12x+\frac34`); `x = 5` against `5` compares the right side;
//   5. matrices cell by cell; `\pm` as the set of both signs; lists (tuples, intervals, sets) item by item;
//   6. the CAS: the difference simplifies to 0 (or vanishes at probe points, for identities).
// Each refusal (a malformed number, the CAS's budget, a timeout) is kept as the reason the caller reports.

import { normalizeAnswer } from "./normalize.js";
import { dividesByZero, parseNumber } from "./numbers.js";
import { rationalEquals } from "./rational.js";
import { type ListAnswer, expandPlusMinus, splitList, unwrapParentheses } from "./lists.js";
import { matrixCells } from "./matrix.js";
import { type Relation, splitRelation, valueOfAssignment } from "./relations.js";
import { DEFAULT_FLOAT_TOLERANCE, roundsTo } from "./tolerance.js";
import type { SymbolicChecker, SymbolicOp } from "./symbolic.js";

export interface EquivalenceOptions {
  /** The CAS used for non-numeric answers; undefined compares them as strings/numbers/lists only. */
  symbolic: SymbolicChecker | undefined;
  /**
   * Total CAS time for one comparison, in ms (default 2500). Lists multiply CAS calls (a 64-item set is
   * up to 64² of them), so the per-call limits alone do not bound a comparison; this does.
   */
  timeBudgetMs?: number;
  /** Relative precision a decimal must carry to stand for an exact value (default 1e-6; 0: exact only). */
  floatTolerance?: number;
}

export const DEFAULT_TIME_BUDGET_MS = 2500;

interface Context {
  symbolic: SymbolicChecker | undefined;
  floatTolerance: number;
  /** performance.now() past which no CAS call starts. */
  deadline: number;
  /** Why a comparison could not be made, first one first (a refused number, the CAS's budget...). */
  reasons: string[];
  /** Whether one of the reasons is the CAS being unable to decide (refused, timed out, failed). */
  undecided: boolean;
}

export type Comparison = "string" | "number" | "tolerance" | "relation" | "matrix" | "list" | "symbolic" | "none";

export interface Equivalence {
  equal: boolean;
  /** Which comparison decided. */
  by: Comparison;
  /** When not equal: what stopped a comparison (a malformed answer, the CAS refusing or timing out). */
  reason?: string;
  /** True when the CAS could not decide (refused, timed out, failed), so "not equal" is not a finding. */
  undecided?: boolean;
}

const NOT_EQUAL: Equivalence = { equal: false, by: "none" };
/** Lists nest (intervals of tuples...); real answers need two levels, so four is plenty. */
const MAX_LIST_DEPTH = 4;
/** Unordered matching is quadratic in the item count. */
const MAX_LIST_ITEMS = 64;

function listsEqual(a: ListAnswer, b: ListAnswer, ctx: Context, depth: number): boolean {
  // Sets and bare lists are both "these answers, any order": `\{1,2\}` is `1, 2`. Otherwise the
  // brackets must match: `(0,1)` is not `[0,1)`, and a tuple is not a set.
  const bothUnordered = a.unordered && b.unordered;
  if (!bothUnordered && (a.open !== b.open || a.close !== b.close)) return false;
  if (a.items.length !== b.items.length || a.items.length > MAX_LIST_ITEMS) return false;
  if (!bothUnordered) return a.items.every((item, i) => compare(item, b.items[i], ctx, depth + 1).equal);
  const used = new Array<boolean>(b.items.length).fill(false);
  return a.items.every((item) => {
    const j = b.items.findIndex((other, k) => !used[k] && compare(item, other, ctx, depth + 1).equal);
    if (j < 0) return false;
    used[j] = true;
    return true;
  });
}

/** One CAS call within the verification's deadline; a refusal or timeout is recorded as a reason. */
function cas(a: string, b: string, ctx: Context, op: SymbolicOp = "equal"): "equal" | "negative" | "no" {
  if (!ctx.symbolic) return "no";
  const outcome = ctx.symbolic.check(a, b, ctx.deadline - performance.now(), op);
  if (outcome.answer === "equal" || outcome.answer === "negative") return outcome.answer;
  if ("reason" in outcome) {
    ctx.reasons.push(outcome.reason);
    ctx.undecided = true;
  }
  return "no";
}

function relationsEqual(a: Relation, b: Relation, ctx: Context, depth: number): boolean {
  if (a.op !== b.op) return false;
  const same = (x: string, y: string) => compare(x, y, ctx, depth + 1).equal;
  if (same(a.lhs, b.lhs) && same(a.rhs, b.rhs)) return true;
  const symmetric = a.op === "=" || a.op === "\\ne";
  if (symmetric && same(a.lhs, b.rhs) && same(a.rhs, b.lhs)) return true;
  // Rearranged or scaled: (a.lhs - a.rhs) = k (b.lhs - b.rhs), k > 0 for an inequality, k != 0 otherwise.
  const k = cas(`(${a.lhs})-(${a.rhs})`, `(${b.lhs})-(${b.rhs})`, ctx, "proportional");
  return k === "equal" || (k === "negative" && symmetric);
}

function matricesEqual(a: string[][], b: string[][], ctx: Context, depth: number): boolean {
  if (a.length !== b.length || a[0].length !== b[0].length) return false;
  return a.every((row, i) => row.every((cell, j) => compare(cell, b[i][j], ctx, depth + 1).equal));
}

/** `1000,99` as 1000.99: a comma before other than three digits, read so only against a decimal with a point. */
function decimalComma(s: string, other: string): string | undefined {
  return /^[+-]?\d+,(?:\d{1,2}|\d{4,})$/.test(s) && /^[+-]?\d*\.\d+$/.test(other) ? s.replace(",", ".") : undefined;
}

function numbers(a: string, b: string, ctx: Context): Equivalence | undefined {
  const na = parseNumber(a);
  const nb = parseNumber(b);
  for (const n of [na, nb]) if (n.kind === "invalid") return { equal: false, by: "none", reason: n.reason };
  if (dividesByZero(a) || dividesByZero(b)) return { equal: false, by: "none", reason: "division by zero" };
  if (na.kind === "number" && nb.kind === "number") {
    if (rationalEquals(na.value, nb.value)) return { equal: true, by: "number" };
    const rounded = roundsTo(a, na.value, nb.value, ctx.floatTolerance) || roundsTo(b, nb.value, na.value, ctx.floatTolerance);
    return { equal: rounded, by: rounded ? "tolerance" : "number" };
  }
  const comma = na.kind === "number" ? decimalComma(b, a) : nb.kind === "number" ? decimalComma(a, b) : undefined;
  if (comma !== undefined) return numbers(na.kind === "number" ? a : comma, na.kind === "number" ? comma : b, ctx);
  return undefined;
}

function compare(a: string, b: string, ctx: Context, depth: number): Equivalence {
  a = unwrapParentheses(a);
  b = unwrapParentheses(b);
  if (a === "" || b === "") return { equal: false, by: "none", reason: "an empty answer" };
  const numeric = numbers(a, b, ctx);
  if (numeric) {
    if (numeric.reason) ctx.reasons.push(numeric.reason);
    return numeric;
  }
  if (a === b) return { equal: true, by: "string" };
  if (depth >= MAX_LIST_DEPTH) return NOT_EQUAL;

  const ra = splitRelation(a);
  const rb = splitRelation(b);
  if (ra && rb) return { equal: relationsEqual(ra, rb, ctx, depth), by: "relation" };
  // `x = 5` (or `x \in [0,1]`) against a bare value: the value is the right side. `x + y = 3` is not.
  const va = rb ? undefined : valueOfAssignment(a);
  const vb = ra ? undefined : valueOfAssignment(b);
  if (va !== undefined || vb !== undefined) return compare(va ?? a, vb ?? b, ctx, depth + 1);
  if (ra || rb) return { equal: false, by: "relation" };

  const ma = matrixCells(a);
  const mb = matrixCells(b);
  if (ma || mb) return { equal: !!ma && !!mb && matricesEqual(ma, mb, ctx, depth), by: "matrix" };

  const la = expandPlusMinus(a) ?? splitList(a);
  const lb = expandPlusMinus(b) ?? splitList(b);
  if (la || lb) return { equal: !!la && !!lb && listsEqual(la, lb, ctx, depth), by: "list" };

  return cas(a, b, ctx) === "equal" ? { equal: true, by: "symbolic" } : NOT_EQUAL;
}

/** Compares two extracted answers (not whole responses). Never throws. */
export function answersEquivalent(a: string, b: string, options: EquivalenceOptions): Equivalence {
  const ctx: Context = {
    symbolic: options.symbolic,
    floatTolerance: options.floatTolerance ?? DEFAULT_FLOAT_TOLERANCE,
    deadline: performance.now() + (options.timeBudgetMs ?? DEFAULT_TIME_BUDGET_MS),
    reasons: [],
    undecided: false,
  };
  try {
    const result = compare(normalizeAnswer(a), normalizeAnswer(b), ctx, 0);
    if (result.equal) return { equal: true, by: result.by };
    const reason = ctx.reasons[0];
    return { ...result, ...(reason ? { reason } : {}), ...(ctx.undecided ? { undecided: true } : {}) };
  } catch (e) {
    // A bug in a rule must cost one reward, not the run.
    return { equal: false, by: "none", reason: `internal error: ${(e as Error).message}`, undecided: true };
  }
}
