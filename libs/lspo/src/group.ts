// A rollout group as the sampler sees it, its validation, the accuracy filter and the per-prompt length.
import { InvalidGroupError } from "./errors.js";
import { describe } from "./options.js";

/**
 * G responses to one prompt. `uid` identifies this group (one rollout of one prompt): a prompt sampled
 * again in a later epoch needs a new uid (e.g. `${promptId}@${epoch}`), because a uid is judged once.
 * `lengths[i]` is response i's length in tokens, `rewards[i]` its reward, `correct[i]` (optional) the
 * verifier's verdict, used only to tell all-correct from all-wrong groups in the statistics.
 */
export interface Group {
  readonly uid: string;
  readonly lengths: readonly number[];
  readonly rewards: readonly number[];
  readonly correct?: readonly boolean[];
}

const FIELDS = ["uid", "lengths", "rewards", "correct"];

/**
 * Where a group came from, for messages. A function is called (with the value being checked) only when a
 * message is needed, so the hot path builds no strings and allocates nothing.
 */
export type GroupContext = string | ((value: unknown) => string);

function fail(context: GroupContext, value: unknown, field: string, what: string): never {
  throw new InvalidGroupError(field, `${typeof context === "string" ? context : context(value)}: field '${field}' ${what}`);
}

/**
 * Checks that `value` is a well-formed group and returns it typed. `context` prefixes every message
 * ("group \"p1\"", "groups.jsonl line 7"). With `strict`, fields other than uid, lengths, rewards and
 * correct are errors (file input, where they are typos); the library's callers may carry extra fields.
 */
export function validateGroup(value: unknown, context: GroupContext, strict = false): Group {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const where = typeof context === "string" ? context : context(value);
    throw new InvalidGroupError("", `${where}: a group must be an object {uid, lengths, rewards}, got ${describe(value)}`);
  }
  const g = value as Record<string, unknown>;
  if (strict) {
    for (const key of Object.keys(g)) {
      if (!FIELDS.includes(key)) fail(context, value, key, `is not a group field (valid fields: ${FIELDS.join(", ")})`);
    }
  }
  if (typeof g.uid !== "string" || g.uid.length === 0) fail(context, value, "uid", `must be a non-empty string, got ${describe(g.uid)}`);
  const { lengths, rewards, correct } = g;
  if (!Array.isArray(lengths) || lengths.length === 0) {
    fail(context, value, "lengths", `must be a non-empty array of token counts, got ${describe(lengths)}`);
  }
  for (let i = 0; i < lengths.length; i++) {
    const x = lengths[i];
    // Token counts are integers; that also makes every mean length an exact rational (see meanLength).
    if (!Number.isSafeInteger(x) || x < 0) fail(context, value, `lengths[${i}]`, `must be a non-negative integer token count, got ${describe(x)}`);
  }
  if (!Array.isArray(rewards)) fail(context, value, "rewards", `must be an array of numbers, got ${describe(rewards)}`);
  if (rewards.length !== lengths.length) {
    fail(context, value, "rewards", `has ${rewards.length} entries but 'lengths' has ${lengths.length} (one reward per response)`);
  }
  for (let i = 0; i < rewards.length; i++) {
    const r = rewards[i];
    if (typeof r !== "number" || !Number.isFinite(r)) fail(context, value, `rewards[${i}]`, `must be a finite number, got ${describe(r)}`);
  }
  if (correct !== undefined) {
    if (!Array.isArray(correct)) fail(context, value, "correct", `must be an array of booleans, got ${describe(correct)}`);
    if (correct.length !== lengths.length) {
      fail(context, value, "correct", `has ${correct.length} entries but 'lengths' has ${lengths.length} (one verdict per response)`);
    }
    for (let i = 0; i < correct.length; i++) {
      if (typeof correct[i] !== "boolean") fail(context, value, `correct[${i}]`, `must be true or false, got ${describe(correct[i])}`);
    }
  }
  return value as Group;
}

/** Where a group lands in DAPO's accuracy filter. Only "mixed" groups carry a gradient. */
export type Accuracy = "mixed" | "all-correct" | "all-wrong";

/**
 * The accuracy filter (DAPO dynamic sampling): a group whose rewards are all exactly equal has zero
 * advantage everywhere and is dropped. Which way it failed is for the statistics only: the `correct`
 * flags decide when present and unanimous, otherwise the shared reward does (`> correctAbove` is
 * all-correct), which reads 0/1 and -1/+1 rewards right with the default threshold 0.
 */
export function accuracyOf(g: Group, correctAbove: number): Accuracy {
  const r = g.rewards;
  const r0 = r[0];
  for (let i = 1; i < r.length; i++) if (r[i] !== r0) return "mixed";
  const c = g.correct;
  if (c !== undefined) {
    let all = true;
    let none = true;
    for (let i = 0; i < c.length; i++) {
      if (c[i]) none = false;
      else all = false;
    }
    if (all) return "all-correct";
    if (none) return "all-wrong";
  }
  return r0 > correctAbove ? "all-correct" : "all-wrong";
}

/**
 * L(q) = (1/G) * sum_i |o_i|, the prompt's mean response length. The sum of integer token counts is
 * exact, and one correctly rounded division keeps equal rationals equal and (for G^2 * L < 2^52, i.e.
 * any realistic G and length) distinct rationals in order, so comparing these doubles is exact.
 */
export function meanLength(g: Group): number {
  const l = g.lengths;
  let s = 0;
  for (let i = 0; i < l.length; i++) s += l[i];
  return s / l.length;
}

/** A plain copy holding only the fields the sampler reads: what a snapshot stores. */
export function plainGroup(g: Group): Group {
  const out: { uid: string; lengths: number[]; rewards: number[]; correct?: boolean[] } = {
    uid: g.uid,
    lengths: g.lengths.slice(),
    rewards: g.rewards.slice(),
  };
  if (g.correct !== undefined) out.correct = g.correct.slice();
  return out;
}
