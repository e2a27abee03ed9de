// The CAS guard: the budget refuses expensive inputs before parsing, and the hard limit kills a worker
// that is stuck in work the engine's own time limit does not interrupt, then starts a fresh one.
import { afterEach, describe, expect, it } from "vitest";
import { SymbolicChecker, symbolicBudget } from "@lspo/tasks";

const checkers: SymbolicChecker[] = [];
function checker(options: ConstructorParameters<typeof SymbolicChecker>[0] = {}): SymbolicChecker {
  const c = new SymbolicChecker(options);
  checkers.push(c);
  return c;
}
afterEach(() => checkers.splice(0).forEach((c) => c.dispose()));

describe("symbolic - budget", () => {
  const refused: Record<string, string> = {
    ["x".repeat(201)]: "longer than 200 characters",
    "5!": "factorial",
    "1e999999": "scientific notation",
    "1234567890123456": "a literal of more than 15 digits",
    "\\int_0^1 x dx": "command \\int",
    "10^{10^{10}}": "exponent '10^{10}' (at most 8 characters, no tower, integers below 100)",
    "2^{100}": "exponent '100' (at most 8 characters, no tower, integers below 100)",
    "x^": "an exponent without argument",
    "((((((((((x))))))))))": "nesting deeper than 8",
  };
  for (const [input, reason] of Object.entries(refused)) {
    it(`refuses ${JSON.stringify(input.slice(0, 20))}: ${reason}`, () => {
      expect(symbolicBudget(input)).toBe(reason);
    });
  }
  it("admits ordinary answers", () => {
    for (const s of ["2\\sqrt{2}", "\\frac{\\pi}{2}", "x^2+2x+1", "(x+1)^{50}", "e^{i\\pi}", "\\sin^2x"]) {
      expect(symbolicBudget(s), s).toBeUndefined();
    }
  });
  it("a refused input is 'unknown' without starting the worker", () => {
    const c = checker({ startupLimitMs: 1 });
    expect(c.equal("10^{10^{10}}", "1")).toBeUndefined();
    expect(c.failure).toBeUndefined();
  });
});

describe("symbolic - worker", () => {
  it("answers true, false, and exactly (no numeric tolerance)", () => {
    const c = checker();
    expect(c.warmUp()).toBe(true);
    expect(c.equal("2\\sqrt{2}", "\\sqrt{8}")).toBe(true);
    expect(c.equal("2\\sqrt{2}", "\\sqrt{9}")).toBe(false);
    expect(c.equal("\\frac{1}{3}", "0.333333333333333")).toBe(false);
    // CE's isEqual calls 1/0 and 2/0 equal (both complex infinity); the difference test does not.
    expect(c.equal("\\frac{1}{0}", "\\frac{2}{0}")).toBe(false);
    expect(c.equal("\\infty", "\\infty")).toBeUndefined(); // \infty is not on the allowed command list
  });

  it("kills a comparison past the hard limit, then answers the next one on a fresh worker", () => {
    // The engine's own limit is set out of reach so that only the hard limit can stop this (it takes
    // several seconds in the engine: expanding a 4-term sum to the 30th power).
    const c = checker({ engineLimitMs: 60_000, hardLimitMs: 300 });
    expect(c.warmUp()).toBe(true);
    const t = performance.now();
    expect(c.equal("(a+b+c+d)^{30}", "(a+b)^{30}")).toBeUndefined();
    expect(performance.now() - t).toBeLessThan(1500);
    expect(c.failure).toBeUndefined();
    expect(c.equal("\\sqrt{8}", "2\\sqrt{2}")).toBe(true);
  });

  it("a per-call limit lowers the hard limit for that call only", () => {
    const c = checker({ engineLimitMs: 60_000 });
    expect(c.warmUp()).toBe(true);
    const t = performance.now();
    expect(c.equal("(a+b+c+d)^{30}", "(a+b)^{30}", 200)).toBeUndefined();
    expect(performance.now() - t).toBeLessThan(1500);
    expect(c.equal("x+x", "2x", 0)).toBeUndefined(); // no time left: not even sent
    expect(c.equal("x+x", "2x")).toBe(true);
  });

  it("waits for a restarted worker only within the caller's limit; the worker goes on starting for the next call", () => {
    const c = checker({ engineLimitMs: 60_000, hardLimitMs: 300 });
    expect(c.warmUp()).toBe(true);
    expect(c.equal("(a+b+c+d)^{30}", "(a+b)^{30}")).toBeUndefined(); // killed at the hard limit
    const t = performance.now();
    expect(c.check("x+x", "2x", 1)).toEqual({ answer: "timeout", reason: "the CAS worker was still starting when the time for this comparison ran out" });
    expect(performance.now() - t).toBeLessThan(500);
    expect(c.failure).toBeUndefined();
    expect(c.check("x+x", "2x")).toEqual({ answer: "equal" });
  });

  it("names why it did not decide: refused by the budget, or the answer", () => {
    const c = checker();
    expect(c.check("10^{10^{10}}", "1")).toEqual({ answer: "refused", reason: "the CAS refuses this input: exponent '10^{10}' (at most 8 characters, no tower, integers below 100)" });
    expect(c.check("2x+4y-3", "y+\\frac12x-\\frac34", Infinity, "proportional")).toEqual({ answer: "equal" });
    expect(c.check("x-5", "5-x", Infinity, "proportional")).toEqual({ answer: "negative" });
    expect(c.check("x-5", "x^2-25", Infinity, "proportional")).toEqual({ answer: "not-shown" });
  });

  it("gives up for good when the engine cannot start in time", () => {
    const c = checker({ startupLimitMs: 1 });
    expect(c.equal("x+x", "2x")).toBeUndefined();
    expect(c.failure).toBe("the CAS worker did not start within 1 ms");
    expect(c.equal("x+x", "2x")).toBeUndefined();
  });
});
