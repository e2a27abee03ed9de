// The synthetic task: deterministic, exact answers (checked against an independent evaluator of the
// prompt), true worked solutions, short, varying in length, disjoint splits, and an exact charset.
import { describe, expect, it } from "vitest";
import { LEVEL_NUMBERS, SYNTHETIC_CHARSET, isCorrect, splitOf, syntheticProblems, syntheticStream } from "@lspo/tasks";

/** Reads a prompt independently of the generator: "has 47. gets 38. doubles. now?" -> 170. */
function evaluatePrompt(prompt: string): number {
  const m = /^has (\d+)\. (.*)now\?$/.exec(prompt);
  if (!m) throw new Error(`unexpected prompt ${prompt}`);
  let v = Number(m[1]);
  for (const part of m[2].trim().split(". ").map((s) => s.replace(/\.$/, ""))) {
    const [word, n] = part.split(" ");
    if (word === "gets") v += Number(n);
    else if (word === "loses") v -= Number(n);
    else if (word === "doubles") v *= 2;
    else if (word === "triples") v *= 3;
    else throw new Error(`unexpected step '${part}'`);
    expect(v).toBeGreaterThanOrEqual(0);
  }
  return v;
}

/** The value of "a+b", "a-b", "a*b" or "a". */
function term(s: string): number {
  const m = /^(\d+)(?:([+\-*])(\d+))?$/.exec(s);
  if (!m) throw new Error(`not a term: ${s}`);
  const [a, op, b] = [Number(m[1]), m[2], Number(m[3])];
  return op === "+" ? a + b : op === "-" ? a - b : op === "*" ? a * b : a;
}

const sample = Object.fromEntries(LEVEL_NUMBERS.map((d) => [d, syntheticProblems("train", 1500, { seed: 3, difficulty: d })]));

describe("synthetic task", () => {
  it("is deterministic in its options and varies with the seed", () => {
    const a = syntheticProblems("train", 50, { seed: 9 });
    expect(syntheticProblems("train", 50, { seed: 9 })).toEqual(a);
    expect(syntheticProblems("train", 50, { seed: 10 }).map((p) => p.prompt)).not.toEqual(a.map((p) => p.prompt));
  });

  it("has exact answers, and every solution line is a true chain of equalities ending in #### answer", () => {
    for (const d of LEVEL_NUMBERS) {
      for (const p of sample[d]) {
        expect(String(evaluatePrompt(p.prompt)), p.prompt).toBe(p.answer);
        const lines = p.solution.split("\n");
        expect(lines.pop()).toBe(`#### ${p.answer}`);
        expect(lines.length).toBe(p.steps);
        let previous = Number(/^has (\d+)/.exec(p.prompt)![1]);
        for (const line of lines) {
          const values = line.split("=").map(term);
          expect(new Set(values).size, line).toBe(1);
          expect(Number(/^\d+/.exec(line)![0]), `${line} continues from ${previous}`).toBe(previous);
          previous = values[0];
        }
        expect(String(previous)).toBe(p.answer);
      }
    }
  });

  it("solutions are what the verifier accepts, and a wrong final line is rejected", () => {
    for (const p of sample[3].slice(0, 200)) {
      expect(isCorrect(p.solution, p.answer, { symbolic: false })).toBe(true);
      expect(isCorrect(p.solution.replace(/#### \d+$/, `#### ${Number(p.answer) + 1}`), p.answer, { symbolic: false })).toBe(false);
    }
  });

  it("keeps prompts <= 42 and solutions <= 80 characters, with lengths that vary and grow with difficulty", () => {
    const meanSolution: number[] = [];
    for (const d of LEVEL_NUMBERS) {
      const prompts = sample[d].map((p) => p.prompt.length);
      const solutions = sample[d].map((p) => p.solution.length);
      expect(Math.max(...prompts)).toBeLessThanOrEqual(42);
      expect(Math.max(...solutions)).toBeLessThanOrEqual(80);
      meanSolution.push(solutions.reduce((a, b) => a + b) / solutions.length);
      if (d >= 2) expect(new Set(solutions).size, `distinct solution lengths at level ${d}`).toBeGreaterThanOrEqual(10);
    }
    for (let i = 1; i < meanSolution.length; i++) expect(meanSolution[i]).toBeGreaterThan(meanSolution[i - 1]);
    // carries add a sub-result: at a fixed number of steps, solutions with carries are longer
    const oneStep = sample[3].filter((p) => p.steps === 1);
    const mean = (ps: typeof oneStep) => ps.reduce((a, p) => a + p.solution.length, 0) / ps.length;
    expect(mean(oneStep.filter((p) => p.carries > 0))).toBeGreaterThan(mean(oneStep.filter((p) => p.carries === 0)));
  });

  it("mixes levels over a difficulty range", () => {
    const levels = new Set(syntheticProblems("train", 300, { seed: 1, difficulty: [1, 4] }).map((p) => p.level));
    expect([...levels].sort()).toEqual([1, 2, 3, 4]);
  });

  it("held-out problems never appear in training, and the split follows the prompt's hash", () => {
    const train = syntheticProblems("train", 3000, { seed: 5, difficulty: [1, 3] });
    const test = syntheticProblems("test", 300, { seed: 5, difficulty: [1, 3] });
    const trainPrompts = new Set(train.map((p) => p.prompt));
    expect(test.filter((p) => trainPrompts.has(p.prompt))).toEqual([]);
    expect(test.every((p) => splitOf(p.prompt) === "test")).toBe(true);
    expect(train.every((p) => splitOf(p.prompt) === "train")).toBe(true);
    // about 10% of all prompts are held out (binomial sd over 4000 prompts: ~0.5%)
    const prompts = Array.from({ length: 4000 }, (_, i) => `has ${i}. gets 1. now?`);
    const share = prompts.filter((p) => splitOf(p) === "test").length / prompts.length;
    expect(Math.abs(share - 0.1)).toBeLessThan(0.025);
  });

  it("testFraction moves the boundary, and the stream yields only its split", () => {
    const stream = syntheticStream("test", { seed: 8, testFraction: 0.5 });
    for (let i = 0; i < 100; i++) expect(splitOf(stream.next().value!.prompt, 0.5)).toBe("test");
  });

  it("exports exactly the characters the task uses", () => {
    const used = new Set<string>();
    for (const d of LEVEL_NUMBERS) for (const p of sample[d]) for (const c of p.prompt + "\n" + p.solution) used.add(c);
    expect([...used].sort().join("")).toBe(SYNTHETIC_CHARSET);
    expect(SYNTHETIC_CHARSET).toBe("\n #*+-.0123456789=?abdeghilnoprstuw");
  });

  it("refuses bad options, and says so when a level has too few distinct problems", () => {
    expect(() => syntheticProblems("train", 1, { seed: 1, difficulty: 9 })).toThrow("unknown synthetic difficulty 9; valid levels: 1, 2, 3, 4");
    expect(() => syntheticProblems("train", 1, { seed: -1 })).toThrow("seed must be an integer in [0, 2^32), got -1");
    expect(() => syntheticProblems("train", 1, { seed: 1, testFraction: 1 })).toThrow("testFraction must be in (0, 1), got 1");
    expect(() => syntheticProblems("train", 1, { seed: 1, difficulty: [3, 2] })).toThrow("difficulty range [3,2] is empty");
    expect(() => syntheticProblems("test", 1000, { seed: 1, difficulty: 1 })).toThrow(/found only \d+ distinct 'test' problems/);
  });
});
