// The RLVR reward: extract the response's final answer, compare it with the reference, score it.
// `verifyResponse` never throws and returns in bounded time for any input (see symbolic.ts for the
// CAS's guards; everything else is linear in the input or capped by MAX_ANSWER_CHARS).

import { extractAnswer, goldAnswer, type AnswerMarker } from "./extract.js";
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
}

export interface Verdict {
  correct: boolean;
  reward: number;
  /** The response's extracted final answer, if it had one. */
  extracted: string | undefined;
  marker: AnswerMarker | undefined;
  /** The reference answer actually compared (the boxed / `####` part of a marked gold answer). */
  gold: string | undefined;
  by: Comparison;
}

export function verifyResponse(response: string, gold: string, options: Partial<VerifyOptions> = {}): Verdict {
  const scheme = rewardScheme(options.reward ?? "zero-one");
  const wrong = (extracted?: string, marker?: AnswerMarker, g?: string): Verdict => ({
    correct: false, reward: scheme.wrong, extracted, marker, gold: g, by: "none",
  });
  try {
    if (typeof response !== "string" || typeof gold !== "string") return wrong();
    const found = extractAnswer(response);
    const reference = goldAnswer(gold);
    if (!found || reference === undefined) return wrong(found?.text, found?.marker, reference);
    const symbolic = options.symbolic === false ? undefined : (options.symbolic ?? sharedSymbolicChecker());
    const { equal, by } = answersEquivalent(found.text, reference, { symbolic, timeBudgetMs: options.timeBudgetMs });
    return { correct: equal, reward: equal ? scheme.correct : scheme.wrong, extracted: found.text, marker: found.marker, gold: reference, by };
  } catch {
    return wrong();
  }
}

/** Just the boolean: is the response's final answer the reference answer? */
export function isCorrect(response: string, gold: string, options: Partial<VerifyOptions> = {}): boolean {
  return verifyResponse(response, gold, options).correct;
}
