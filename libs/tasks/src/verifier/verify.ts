// The RLVR reward: extract the response's final answer, compare it with the reference, score it.
// `verifyResponse` never throws and returns in bounded time for any input (see symbolic.ts for the
// CAS's guards; everything else is linear in the input or capped by MAX_ANSWER_CHARS). Every verdict
// carries a status, and every status but "correct" and "wrong" a reason naming what was wrong.

import { type AnswerMarker, type ExtractMode, findAnswer, goldAnswer } from "./extract.js";
import { answersEquivalent, type Comparison } from "./equivalence.js";
import { rewardScheme, type RewardSchemeName } from "./reward.js";
import { sharedSymbolicChecker, type SymbolicChecker } from "./symbolic.js";

export interface VerifyOptions {
  /** "zero-one" (default) or "plus-minus-one". */
  reward: RewardSchemeName;
  /** The CAS for expressions; default the process-wide one; `false` turns symbolic comparison off. */
  symbolic: SymbolicChecker | false;
  /** Total CAS time for one verification, in ms (default 2500; see EquivalenceOptions). */
  timeBudgetMs: number;
  /** "strict" (default: marked answers only, for rewards) or "lenient" (also the last math span or number). */
  extract: ExtractMode;
  /** Relative precision a decimal must carry to stand for an exact value (default 1e-6; 0: exact only). */
  floatTolerance: number;
}

/**
 * correct / wrong: compared, and equal or not.
 * no-answer: the response has no final answer (no marker, an unclosed box, an over-long answer).
 * bad-answer: the answer is malformed (`2 3`, a division by zero): wrong, and why.
 * bad-gold: the reference answer is empty or over-long.
 * undecided: the CAS could not decide in time or refused the input (its budget): scored wrong.
 */
export type VerdictStatus = "correct" | "wrong" | "no-answer" | "bad-answer" | "bad-gold" | "undecided";

export interface Verdict {
  correct: boolean;
  reward: number;
  status: VerdictStatus;
  /** What was wrong, for every status but correct and (plain) wrong. */
  reason?: string;
  /** The response's extracted final answer, if it had one. */
  extracted: string | undefined;
  marker: AnswerMarker | undefined;
  /** The reference answer actually compared (the boxed / `####` part of a marked gold answer). */
  gold: string | undefined;
  by: Comparison;
}

export function verifyResponse(response: string, gold: string, options: Partial<VerifyOptions> = {}): Verdict {
  const scheme = rewardScheme(options.reward ?? "zero-one");
  const wrong = (status: VerdictStatus, reason: string | undefined, extracted?: string, marker?: AnswerMarker, g?: string): Verdict => ({
    correct: false, reward: scheme.wrong, status, ...(reason ? { reason } : {}), extracted, marker, gold: g, by: "none",
  });
  try {
    if (typeof response !== "string" || typeof gold !== "string") return wrong("bad-answer", "response and gold answer must be strings");
    const found = findAnswer(response, options.extract ?? "strict");
    const reference = goldAnswer(gold);
    if (reference === undefined) return wrong("bad-gold", "the gold answer is empty, unmarked where marked, or longer than the cap", found.answer?.text, found.answer?.marker);
    if (!found.answer) return wrong("no-answer", found.reason, undefined, found.marker, reference);
    const { text, marker } = found.answer;
    const symbolic = options.symbolic === false ? undefined : (options.symbolic ?? sharedSymbolicChecker());
    const eq = answersEquivalent(text, reference, { symbolic, timeBudgetMs: options.timeBudgetMs, floatTolerance: options.floatTolerance });
    if (eq.equal) return { correct: true, reward: scheme.correct, status: "correct", extracted: text, marker, gold: reference, by: eq.by };
    const status: VerdictStatus = eq.undecided ? "undecided" : eq.reason ? "bad-answer" : "wrong";
    return { ...wrong(status, eq.reason, text, marker, reference), by: eq.by };
  } catch (e) {
    return wrong("undecided", `internal error: ${(e as Error).message}`);
  }
}

/** Just the boolean: is the response's final answer the reference answer? */
export function isCorrect(response: string, gold: string, options: Partial<VerifyOptions> = {}): boolean {
  return verifyResponse(response, gold, options).correct;
}
