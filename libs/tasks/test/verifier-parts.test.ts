// The verifier's new parts on their own: the rounding tolerance (exact rationals), relation splitting,
// and extraction in both modes, with the reason given when there is no answer.
import { describe, expect, it } from "vitest";
import { findAnswer, parseNumber, roundsTo, splitRelation, type Rational } from "@lspo/tasks";

const value = (s: string): Rational => {
  const n = parseNumber(s);
  if (n.kind !== "number") throw new Error(`not a number: ${s}`);
  return n.value;
};
const rounds = (decimal: string, exact: string, tol = 1e-6) => roundsTo(decimal, value(decimal), value(exact), tol);

describe("verifier - rounding tolerance", () => {
  it("accepts the exact value rounded or truncated to enough digits", () => {
    expect(rounds("0.0833333333333333", "1/12")).toBe(true);
    expect(rounds("0.6666667", "2/3")).toBe(true); // rounded
    expect(rounds("0.6666666", "2/3")).toBe(true); // truncated
    expect(rounds("-0.6666667", "-2/3")).toBe(true);
  });
  it("refuses too few digits, a wrong last digit, the wrong sign, and float artefacts", () => {
    expect(rounds("0.0833", "1/12")).toBe(false);
    expect(rounds("0.6666668", "2/3")).toBe(false);
    expect(rounds("0.6666667", "-2/3")).toBe(false);
    expect(rounds("0.30000000000000004", "3/10")).toBe(false);
  });
  it("the tolerance bounds the relative size of the last place: 1e-2 admits 0.333 for 1/3, 1e-6 does not, 0 admits nothing", () => {
    expect(rounds("0.333", "1/3", 1e-2)).toBe(true);
    expect(rounds("0.333", "1/3")).toBe(false);
    expect(rounds("0.3333333", "1/3", 0)).toBe(false);
  });
  it("applies only to plain decimals with a point", () => {
    expect(rounds("1/3", "1/3")).toBe(false);
    expect(roundsTo("3e-1", value("3e-1"), value("0.3"), 1e-6)).toBe(false);
  });
});

describe("verifier - relations", () => {
  it("splits at the one top-level sign and flips > and \\ge", () => {
    expect(splitRelation("x\\le 5")).toEqual({ lhs: "x", op: "\\le", rhs: "5" });
    expect(splitRelation("5\\ge x")).toEqual({ lhs: "x", op: "\\le", rhs: "5" });
    expect(splitRelation("5>x")).toEqual({ lhs: "x", op: "<", rhs: "5" });
    expect(splitRelation("y=2x+1")).toEqual({ lhs: "y", op: "=", rhs: "2x+1" });
  });
  it("leaves chains, signs inside brackets and empty sides alone", () => {
    expect(splitRelation("1<x<3")).toBeUndefined();
    expect(splitRelation("\\{x|x>2\\}")).toBeUndefined();
    expect(splitRelation("=5")).toBeUndefined();
    expect(splitRelation("\\left\\{1,2\\right\\}")).toBeUndefined();
  });
});

describe("verifier - extraction modes", () => {
  it("strict names why there is no answer; lenient then takes the last math span or number", () => {
    expect(findAnswer("I think it is 42")).toEqual({ reason: "no final answer: no \\boxed{}, '####', 'the answer is' or 'Final Answer:' in the response" });
    expect(findAnswer("I think it is 42", "lenient")).toEqual({ answer: { text: "42", marker: "last-number" } });
    expect(findAnswer("so $x = 5$", "lenient")).toEqual({ answer: { text: "5", marker: "math" } });
    expect(findAnswer("so $y = 2x+1$", "lenient")).toEqual({ answer: { text: "y = 2x+1", marker: "math" } });
  });
  it("reads Final Answer lines, and joins adjacent boxes into one list", () => {
    expect(findAnswer("Final Answer: The largest $n$ is 34.").answer).toEqual({ text: "34", marker: "final-answer" });
    expect(findAnswer("**Final Answer:** $\\frac12$").answer).toEqual({ text: "\\frac12", marker: "final-answer" });
    expect(findAnswer("$\\boxed{3}$ and $\\boxed{-3}$").answer).toEqual({ text: "3, -3", marker: "boxed" });
    expect(findAnswer("first \\boxed{3}, finally \\boxed{4}").answer).toEqual({ text: "4", marker: "boxed" });
  });
  it("an unclosed last box is no answer in strict mode, with the reason", () => {
    expect(findAnswer("\\boxed{5} then \\boxed{5")).toEqual({ reason: "the last \\boxed{ is never closed (a truncated response?)" });
  });
});
