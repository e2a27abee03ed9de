// The synthetic reasoning task of the demo: short arithmetic word problems over a tiny vocabulary, generated
// from a seed, with exact answers and worked solutions whose length varies naturally (steps, carries,
// sub-results). The held-out split is decided by a hash of the prompt text, so no prompt can ever be in
// both splits, whatever the seeds or counts.
import { createHash } from "node:crypto";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import type { RandomGenerator } from "pure-rand/types/RandomGenerator";
import type { TaskExample } from "../datasets/example.js";
import { LEVELS, type OpName, level } from "./levels.js";
import { FACTORS, type Step, workedSolution } from "./solution.js";

export type Split = "train" | "test";

export interface SyntheticProblem extends TaskExample {
  prompt: string;
  /** The worked solution, ending in `#### <answer>`. */
  solution: string;
  level: number;
  steps: number;
  carries: number;
}

export interface SyntheticTaskOptions {
  seed: number;
  /** A level, or an inclusive [min, max] range drawn uniformly per problem (default [1, 3]). */
  difficulty?: number | readonly [number, number];
  /** Share of all possible prompts that belong to the held-out split (default 0.1). */
  testFraction?: number;
}

/** The words of the prompts: part of the task's vocabulary. */
const WORDS = { start: "has", end: "now?" } as const;

function promptOf(start: number, steps: readonly Step[]): string {
  const parts = [`${WORDS.start} ${start}.`, ...steps.map((s) => (s.operand === undefined ? `${s.op}.` : `${s.op} ${s.operand}.`)), WORDS.end];
  return parts.join(" ");
}

/** Operations that keep the count a non-negative integer from `value`, and the operand range they allow. */
function choices(value: number, ops: readonly OpName[], operand: readonly [number, number]): { op: OpName; range?: [number, number] }[] {
  return ops.flatMap((op) => {
    if (FACTORS[op] !== undefined) return [{ op }];
    const hi = op === "loses" ? Math.min(operand[1], value) : operand[1];
    return hi >= operand[0] ? [{ op, range: [operand[0], hi] as [number, number] }] : [];
  });
}

/** One problem at level `n`, drawn from `rng`. */
export function drawProblem(rng: RandomGenerator, n: number): Omit<SyntheticProblem, "id"> {
  const l = level(n);
  const start = uniformInt(rng, l.start[0], l.start[1]);
  const count = uniformInt(rng, l.steps[0], l.steps[1]);
  const steps: Step[] = [];
  let value = start;
  for (let i = 0; i < count; i++) {
    const options = choices(value, l.ops, l.operand);
    const pick = options[uniformInt(rng, 0, options.length - 1)];
    const step: Step = pick.range ? { op: pick.op, operand: uniformInt(rng, pick.range[0], pick.range[1]) } : { op: pick.op };
    steps.push(step);
    value = workedSolution(value, [step]).answer;
  }
  const worked = workedSolution(start, steps);
  return { prompt: promptOf(start, steps), answer: String(worked.answer), solution: worked.text, level: n, steps: count, carries: worked.carries };
}

function promptHash(prompt: string): Buffer {
  return createHash("sha256").update(prompt).digest();
}

/** Which split a prompt belongs to: the first 32 bits of its SHA-256, as a fraction, below testFraction. */
export function splitOf(prompt: string, testFraction = 0.1): Split {
  return promptHash(prompt).readUInt32BE(0) / 2 ** 32 < testFraction ? "test" : "train";
}

function checkOptions(o: SyntheticTaskOptions): { seed: number; levels: [number, number]; testFraction: number } {
  if (!Number.isSafeInteger(o.seed) || o.seed < 0 || o.seed >= 2 ** 32) throw new RangeError(`seed must be an integer in [0, 2^32), got ${o.seed}`);
  const d = o.difficulty ?? [1, 3];
  const levels: [number, number] = typeof d === "number" ? [d, d] : [d[0], d[1]];
  level(levels[0]);
  level(levels[1]);
  if (levels[0] > levels[1]) throw new RangeError(`difficulty range [${levels}] is empty`);
  const testFraction = o.testFraction ?? 0.1;
  if (!(testFraction > 0 && testFraction < 1)) throw new RangeError(`testFraction must be in (0, 1), got ${testFraction}`);
  return { seed: o.seed, levels, testFraction };
}

/** Separate streams for the two splits, so the test set does not depend on how much training data was drawn. */
const SPLIT_STREAM: Record<Split, number> = { train: 0x74726e, test: 0x747374 };

/** An endless stream of problems of one split (repeats possible); deterministic in the options. */
export function* syntheticStream(split: Split, options: SyntheticTaskOptions): Generator<SyntheticProblem> {
  const { seed, levels, testFraction } = checkOptions(options);
  const rng = xoroshiro128plus((seed ^ SPLIT_STREAM[split]) >>> 0);
  for (;;) {
    const p = drawProblem(rng, uniformInt(rng, levels[0], levels[1]));
    if (splitOf(p.prompt, testFraction) !== split) continue;
    yield { id: `synthetic-${promptHash(p.prompt).toString("hex", 0, 6)}`, ...p };
  }
}

/**
 * `count` distinct problems of one split. Throws, rather than loop forever, when the difficulty range
 * has too few distinct prompts in that split (level 1 has a few hundred in all).
 */
export function syntheticProblems(split: Split, count: number, options: SyntheticTaskOptions): SyntheticProblem[] {
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`count must be an integer >= 0, got ${count}`);
  const seen = new Set<string>();
  const out: SyntheticProblem[] = [];
  let draws = 0;
  const maxDraws = 50 * count + 1000;
  for (const p of syntheticStream(split, options)) {
    if (out.length === count) break;
    if (++draws > maxDraws) {
      throw new RangeError(`found only ${out.length} distinct '${split}' problems in ${maxDraws} draws; ask for fewer or widen the difficulty`);
    }
    if (seen.has(p.prompt)) continue;
    seen.add(p.prompt);
    out.push(p);
  }
  return out;
}

/**
 * Every character the task's prompts and solutions can contain, sorted: digits, the words' letters,
 * space, `.`, `?`, `+ - * =`, `#` and newline. The demo tokenizer is built from it.
 */
export const SYNTHETIC_CHARSET: string = [
  ...new Set([
    ..."0123456789",
    ...Object.values(WORDS).join(" "),
    ...Object.values(LEVELS).flatMap((l) => l.ops).join(" "),
    ..." .+-*=#\n",
  ]),
].sort().join("");
