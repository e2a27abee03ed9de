// The verifier's corpus (verifier-corpus.jsonl): answer notations from the issue and answer styles of
// GSM8K, MATH and AIME, each case with the result it must get in each extraction mode. Written for this
// project; no case is copied from another. Every case runs in both modes.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXTRACT_MODES, SymbolicChecker, verifyResponse } from "@lspo/tasks";

interface CorpusCase {
  id: string;
  style: string;
  notation: string;
  response: string;
  gold: string;
  expected: { strict: boolean; lenient: boolean };
}

const CORPUS: CorpusCase[] = readFileSync(new URL("./verifier-corpus.jsonl", import.meta.url), "utf8")
  .split("\n")
  .filter((line) => line.trim() !== "")
  .map((line) => JSON.parse(line) as CorpusCase);

const symbolic = new SymbolicChecker();
beforeAll(() => expect(symbolic.warmUp()).toBe(true));
afterAll(() => symbolic.dispose());

describe("verifier - corpus", () => {
  it("has at least 300 cases with unique ids, each stating its result in both modes", () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(300);
    expect(new Set(CORPUS.map((c) => c.id)).size).toBe(CORPUS.length);
    for (const c of CORPUS) for (const mode of EXTRACT_MODES) expect(typeof c.expected[mode], `${c.id} ${mode}`).toBe("boolean");
  });

  it("covers every notation with a positive and a negative case (adversarial: negative only)", () => {
    const byNotation = new Map<string, boolean[]>();
    for (const c of CORPUS) byNotation.set(c.notation, [...(byNotation.get(c.notation) ?? []), c.expected.strict || c.expected.lenient]);
    for (const [notation, results] of byNotation) {
      expect(results.includes(false), notation).toBe(true);
      if (notation !== "refused" && notation !== "no-merge") expect(results.includes(true), notation).toBe(true);
    }
  });

  for (const mode of EXTRACT_MODES) {
    describe(mode, () => {
      for (const c of CORPUS) {
        it(`${c.id}: ${JSON.stringify(c.response.slice(0, 60))} vs ${JSON.stringify(c.gold.slice(0, 40))} -> ${c.expected[mode]}`, () => {
          const t = performance.now();
          const v = verifyResponse(c.response, c.gold, { symbolic, extract: mode });
          expect(v.correct, JSON.stringify({ ...v, extracted: v.extracted?.slice(0, 80) })).toBe(c.expected[mode]);
          expect(performance.now() - t).toBeLessThan(3500); // the CAS's 2 s hard limit, plus slack for a loaded machine
        });
      }
    });
  }
});
