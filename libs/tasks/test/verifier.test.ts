// The verifier's table: every extraction marker and every normalisation rule, each with cases that
// must match and cases that must not. Rows are [what, response, gold, expected].
import { afterAll, describe, expect, it } from "vitest";
import { SymbolicChecker, isCorrect, verifyResponse } from "@lspo/tasks";

const symbolic = new SymbolicChecker();
afterAll(() => symbolic.dispose());

type Row = readonly [what: string, response: string, gold: string, expected: boolean];

const TABLE: Record<string, readonly Row[]> = {
  extraction: [
    ["last \\boxed wins", "first \\boxed{3}, finally \\boxed{4}", "4", true],
    ["last \\boxed wins (earlier one is not the answer)", "first \\boxed{3}, finally \\boxed{4}", "3", false],
    ["nested braces in \\boxed", "so \\boxed{\\frac{\\sqrt{3}}{2}}.", "\\frac{\\sqrt{3}}{2}", true],
    ["\\fbox", "result: \\fbox{12}", "12", true],
    ["\\boxed without braces", "$\\boxed 7$", "7", true],
    ["unclosed last \\boxed is no answer", "\\boxed{5} then \\boxed{5", "5", false],
    ["#### as in GSM8K", "3+4=7\n7*2=14\n#### 14", "14", true],
    ["#### takes the rest of its line only", "#### 14\nthat is all", "14", true],
    ["#### wrong", "#### 15", "14", false],
    ["the answer is", "So the answer is 42.", "42", true],
    ["The final answer is $...$", "The final answer is $\\frac{1}{3}$. I hope it is correct.", "1/3", true],
    ["answer is: x", "the answer is: -2", "-2", true],
    ["answer is, decimal not cut at its point", "The answer is 3.75.", "3.75", true],
    ["the marker that comes last wins", "#### 3\nActually the answer is \\boxed{5}", "5", true],
    ["the marker that comes last wins (####)", "the answer is \\boxed{5}\n#### 6", "6", true],
    ["no marker, no answer", "I think it is 42", "42", false],
    ["empty box", "\\boxed{}", "0", false],
  ],
  "gold answer forms": [
    ["gold boxed", "#### 9", "\\boxed{9}", true],
    ["gold is a GSM8K solution", "\\boxed{72}", "48/2 = 24\n24+48 = 72\n#### 72", true],
    ["gold is a MATH solution", "\\boxed{\\frac{1}{2}}", "Thus $x = \\boxed{\\dfrac{1}{2}}$.", true],
    ["gold boxed, wrong response", "\\boxed{8}", "\\boxed{9}", false],
  ],
  "integers of any size": [
    ["30-digit integers equal", "\\boxed{123456789012345678901234567890}", "123456789012345678901234567890", true],
    ["30-digit integers differ in the last digit", "\\boxed{123456789012345678901234567890}", "123456789012345678901234567891", false],
    ["beyond 2^53: no float rounding", "\\boxed{9007199254740993}", "9007199254740992", false],
    ["leading zeros", "\\boxed{007}", "7", true],
  ],
  decimals: [
    ["decimal vs integer", "\\boxed{3.0}", "3", true],
    ["trailing zeros", "\\boxed{2.50}", "2.5", true],
    ["leading point", "\\boxed{.5}", "0.5", true],
    ["exact, not float: 0.1+0.2 style", "\\boxed{0.30000000000000004}", "0.3", false],
    ["scientific notation", "\\boxed{1.5e3}", "1500", true],
    ["\\times 10^{n}", "\\boxed{2.5\\times10^{3}}", "2500", true],
    ["decimal differs", "\\boxed{3.14}", "3.15", false],
  ],
  fractions: [
    ["a/b vs decimal", "\\boxed{3/4}", "0.75", true],
    ["\\frac vs a/b", "\\boxed{\\frac{3}{4}}", "3/4", true],
    ["unreduced fraction", "\\boxed{\\frac{6}{8}}", "\\frac{3}{4}", true],
    ["\\dfrac", "\\boxed{\\dfrac{1}{2}}", "1/2", true],
    ["\\tfrac", "\\boxed{\\tfrac{2}{3}}", "\\frac{2}{3}", true],
    ["\\frac12 shorthand", "\\boxed{\\frac12}", "0.5", true],
    ["\\dfrac34 shorthand", "\\boxed{\\dfrac34}", "\\frac{3}{4}", true],
    ["fraction of decimals", "\\boxed{\\frac{1.5}{3}}", "1/2", true],
    ["1/3 is not 0.333", "\\boxed{\\frac{1}{3}}", "0.333", false],
    ["different fraction", "\\boxed{\\frac{2}{3}}", "\\frac{3}{4}", false],
    ["mixed number", "\\boxed{2\\frac{1}{2}}", "5/2", true],
    ["negative mixed number", "\\boxed{-2\\frac12}", "-2.5", true],
    ["a mixed number is not a product", "\\boxed{2\\frac{1}{2}}", "1", false],
  ],
  signs: [
    ["negative integer", "\\boxed{-5}", "-5", true],
    ["sign matters", "\\boxed{5}", "-5", false],
    ["explicit plus", "\\boxed{+5}", "5", true],
    ["unicode minus", "\\boxed{−5}", "-5", true],
    ["minus before \\frac", "\\boxed{-\\frac{1}{2}}", "-0.5", true],
    ["minus inside \\frac", "\\boxed{\\frac{-1}{2}}", "-\\frac{1}{2}", true],
    ["minus in the denominator", "\\boxed{\\frac{1}{-2}}", "-1/2", true],
    ["double negative is not negative", "\\boxed{\\frac{-1}{-2}}", "-1/2", false],
  ],
  "thousands separators": [
    ["comma grouping", "#### 1,234,567", "1234567", true],
    ["TeX {,} grouping", "\\boxed{1{,}000}", "1000", true],
    ["thin-space grouping", "\\boxed{1\\,000}", "1000", true],
    ["grouping with decimals", "\\boxed{12,345.5}", "12345.5", true],
    ["not a grouping of threes: a pair", "\\boxed{1,00}", "100", false],
    ["grouped value differs", "#### 1,234", "1243", false],
  ],
  dollars: [
    ["\\$ currency", "\\boxed{\\$18}", "18", true],
    ["math-mode $...$", "the answer is $18$", "18", true],
    ["$ with grouping and full stop", "\\boxed{\\$1{,}000.}", "1000", true],
    ["currency, wrong amount", "\\boxed{\\$19}", "18", false],
  ],
  spaces: [
    ["spaces around the answer", "\\boxed{ 12 }", "12", true],
    // Was `\boxed{ 1 2 }` vs 12 -> true: a false positive (two numbers read as one), issue 19.
    ["a space between digits is two numbers, not 12", "\\boxed{ 1 2 }", "12", false],
    ["spacing commands", "\\boxed{3\\;\\!\\quad}", "3", true],
    ["\\displaystyle", "\\boxed{\\displaystyle \\frac{1}{4}}", "0.25", true],
    ["spaces do not join different numbers into the gold", "\\boxed{1 3}", "12", false],
  ],
  "tuples and intervals": [
    ["\\left( \\right) tuple", "\\boxed{\\left( 1, 2 \\right)}", "(1,2)", true],
    ["tuple items compared as numbers", "\\boxed{(0.5, \\frac{3}{2})}", "(\\frac12,1.5)", true],
    ["tuple order matters", "\\boxed{(2,1)}", "(1,2)", false],
    ["interval", "\\boxed{\\left[ 0, 1 \\right)}", "[0,1)", true],
    ["interval brackets matter", "\\boxed{(0,1)}", "[0,1)", false],
    ["tuple length matters", "\\boxed{(1,2,3)}", "(1,2)", false],
    ["set order does not matter", "\\boxed{\\{3, 1, 2\\}}", "\\{1,2,3\\}", true],
    ["set items must match", "\\boxed{\\{1, 2\\}}", "\\{1,3\\}", false],
    ["several answers, any order", "\\boxed{-1, 3}", "3,-1", true],
    ["parentheses around one value", "\\boxed{(5)}", "5", true],
    ["a tuple is not a number", "\\boxed{(1,2)}", "12", false],
  ],
  "text units": [
    ["\\text unit after a number", "\\boxed{5 \\text{ cm}}", "5", true],
    ["\\mbox unit after a number", "\\boxed{12\\mbox{ apples}}", "12", true],
    ["unit on both sides", "\\boxed{7\\text{ m}}", "7 \\text{ meters}", true],
    ["\\text answer is unwrapped, not dropped", "\\boxed{\\text{(B)}}", "(B)", true],
    ["\\text answer differs", "\\boxed{\\text{(B)}}", "(C)", false],
    ["unit stripping keeps the number", "\\boxed{6 \\text{ cm}}", "5", false],
    ["degrees", "\\boxed{90^\\circ}", "90", true],
    ["percent", "\\boxed{50\\%}", "50", true],
    ["variable = value", "\\boxed{x = 3}", "3", true],
    ["an equation is not its right side", "\\boxed{x + y = 3}", "3", false],
  ],
  "symbolic (CAS)": [
    ["2\\sqrt{2} vs \\sqrt{8}", "\\boxed{2\\sqrt{2}}", "\\sqrt{8}", true],
    ["\\sqrt2 shorthand", "\\boxed{2\\sqrt2}", "\\sqrt{8}", true],
    ["rationalised denominator", "\\boxed{\\frac{\\sqrt{3}}{3}}", "\\frac{1}{\\sqrt{3}}", true],
    ["expanded polynomial", "\\boxed{x^2+2x+1}", "(x+1)^2", true],
    ["\\pi forms", "\\boxed{\\pi/2}", "\\frac{\\pi}{2}", true],
    ["root vs integer", "\\boxed{\\sqrt{9}}", "3", true],
    ["different roots", "\\boxed{2\\sqrt{2}}", "\\sqrt{9}", false],
    ["different polynomials", "\\boxed{x^2+1}", "(x+1)^2", false],
    ["no numeric tolerance", "\\boxed{\\sqrt{2}}", "1.4142135623730951", false],
  ],
  "division by zero and huge numbers": [
    ["1/0 equals nothing, not even itself", "\\boxed{\\frac{1}{0}}", "\\frac{1}{0}", false],
    ["1/0 vs 2/0", "\\boxed{1/0}", "2/0", false],
    ["x/0", "\\boxed{\\frac{x}{0}}", "\\frac{x}{0}", false],
    ["exponent tower vs number", "\\boxed{10^{10^{10}}}", "1", false],
    ["exponent tower, identical text, is the same answer", "\\boxed{10^{10^{10}}}", "10^{10^{10}}", true],
    ["huge scientific exponent is not parsed", "\\boxed{1e999999}", "1", false],
    ["huge power of two", "\\boxed{2^{100000000}}", "0", false],
    ["factorial", "\\boxed{1000000!}", "1", false],
  ],
};

describe("verifier - table", () => {
  for (const [group, rows] of Object.entries(TABLE)) {
    describe(group, () => {
      for (const [what, response, gold, expected] of rows) {
        it(`${what}: ${JSON.stringify(response)} vs ${JSON.stringify(gold)} -> ${expected}`, () => {
          expect(isCorrect(response, gold, { symbolic })).toBe(expected);
        });
      }
    });
  }

  it("covers each group with at least one positive and one negative case", () => {
    for (const [group, rows] of Object.entries(TABLE)) {
      expect(rows.some((r) => r[3]), group).toBe(true);
      expect(rows.some((r) => !r[3]), group).toBe(true);
    }
  });
});

describe("verifier - verdicts and rewards", () => {
  it("reports the extracted answer, the marker, the compared gold and the deciding comparison", () => {
    const v = verifyResponse("work... \\boxed{\\frac{6}{8}}", "#### 0.75", { symbolic: false });
    expect(v).toEqual({ correct: true, reward: 1, status: "correct", extracted: "\\frac{6}{8}", marker: "boxed", gold: "0.75", by: "number" });
  });

  it("scores 1/0 by default and +1/-1 with plus-minus-one", () => {
    expect(verifyResponse("\\boxed{3}", "3").reward).toBe(1);
    expect(verifyResponse("\\boxed{4}", "3").reward).toBe(0);
    expect(verifyResponse("\\boxed{3}", "3", { reward: "plus-minus-one" }).reward).toBe(1);
    expect(verifyResponse("\\boxed{4}", "3", { reward: "plus-minus-one" }).reward).toBe(-1);
    expect(verifyResponse("no answer", "3", { reward: "plus-minus-one" }).reward).toBe(-1);
  });

  it("rejects an unknown reward scheme naming the valid ones", () => {
    expect(() => verifyResponse("\\boxed{3}", "3", { reward: "binary" as never })).toThrow(
      "unknown reward scheme 'binary'. Valid schemes: zero-one, plus-minus-one",
    );
  });

  it("without the CAS, symbolic answers are not equivalent but numeric ones still are", () => {
    expect(isCorrect("\\boxed{2\\sqrt{2}}", "\\sqrt{8}", { symbolic: false })).toBe(false);
    expect(isCorrect("\\boxed{\\frac{6}{8}}", "0.75", { symbolic: false })).toBe(true);
  });
});
