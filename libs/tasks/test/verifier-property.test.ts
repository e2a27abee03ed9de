// The no-false-positive property (issue 19): for numbers a != b, no rendering of b (separators, spaces,
// units, currency, percent, boxes, markers) is accepted for a, in either extraction mode. And, so that
// the renderings are known to mean b, the same renderings of a ARE accepted for a.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { EXTRACT_MODES, SymbolicChecker, verifyResponse } from "@lspo/tasks";

const symbolic = new SymbolicChecker();
afterAll(() => symbolic.dispose());

type Num = { p: bigint; q: bigint }; // p/q in lowest terms, q > 0

function gcd(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}
const num = (p: bigint, q: bigint): Num => {
  const g = gcd(p, q) || 1n;
  return { p: p / g, q: q / g };
};

/** `1234567` → `1,234,567` with the given separator. */
function grouped(n: bigint, sep: string): string {
  const s = (n < 0n ? -n : n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, sep);
  return (n < 0n ? "-" : "") + s;
}

/** Ways to write the number as a final answer's text (not yet in a response). */
function texts(x: Num): string[] {
  if (x.q === 1n) {
    const n = x.p;
    return [n.toString(), grouped(n, ","), grouped(n, "\\,"), grouped(n, "{,}"), `\\$${grouped(n, ",")}`, `${n}\\%`, `${n} percent`,
      `${n} \\text{ cm}`, `${grouped(n, ",")} apples`, `${n}.0`, `\\frac{${n * 2n}}{2}`, `€${n}`, `${n}^\\circ`, ` ${n} `];
  }
  const sign = x.p < 0n ? "-" : "";
  const a = x.p < 0n ? -x.p : x.p;
  const out = [`${x.p}/${x.q}`, `\\frac{${x.p}}{${x.q}}`, `${sign}\\dfrac{${a}}{${x.q}}`, `\\frac{${x.p * 3n}}{${x.q * 3n}}`];
  if (a > x.q) out.push(`${sign}${a / x.q}\\frac{${a % x.q}}{${x.q}}`, `${sign}${a / x.q} ${a % x.q}/${x.q}`);
  return out;
}

/** Ways to put an answer's text in a response: (response, needs lenient mode). */
function responses(text: string): [string, boolean][] {
  return [[`\\boxed{${text}}`, false], [`work...\n#### ${text}`, false], [`So the answer is $${text}$.`, false], [`Final Answer: ${text}`, false],
    [`Therefore we get $${text}$`, true]];
}

/** Renderings of b that also split its digits by a space: never one number, so never accepted for anything. */
function spaced(x: Num): string[] {
  return x.q === 1n ? [grouped(x.p, " "), grouped(x.p, ", ")] : [`${x.p} / ${x.q}`.replace(/(\d)(\d)/, "$1 $2")];
}

const integer = fc.bigInt({ min: -(10n ** 9n), max: 10n ** 9n }).map((p) => num(p, 1n));
const fraction = fc.tuple(fc.bigInt({ min: -1000n, max: 1000n }), fc.bigInt({ min: 1n, max: 1000n })).map(([p, q]) => num(p, q));
const number = fc.oneof(integer, fraction);
const gold = (a: Num) => (a.q === 1n ? a.p.toString() : `\\frac{${a.p}}{${a.q}}`);

describe("verifier - no rendering of b is accepted for a != b (property)", () => {
  it("numbers: separators, spaces, units, boxes, markers, both modes", () => {
    fc.assert(
      fc.property(number, number, (a, b) => {
        fc.pre(a.p !== b.p || a.q !== b.q);
        for (const text of [...texts(b), ...spaced(b)]) {
          for (const [response] of responses(text)) {
            for (const extract of EXTRACT_MODES) {
              const v = verifyResponse(response, gold(a), { symbolic, extract });
              if (v.correct) throw new Error(`${JSON.stringify(response)} accepted for ${gold(a)} (${extract}, by ${v.by})`);
            }
          }
        }
      }),
      { numRuns: 300, seed: 19 },
    );
  });

  it("the same renderings of a are accepted for a (so the property above tests real renderings)", () => {
    fc.assert(
      fc.property(number, (a) => {
        for (const text of texts(a)) {
          for (const [response, lenientOnly] of responses(text)) {
            for (const extract of EXTRACT_MODES) {
              const v = verifyResponse(response, gold(a), { symbolic, extract });
              const expected = !lenientOnly || extract === "lenient";
              if (v.correct !== expected) throw new Error(`${JSON.stringify(response)} for ${gold(a)} (${extract}): ${JSON.stringify(v)}`);
            }
          }
        }
      }),
      { numRuns: 200, seed: 20 },
    );
  });

  it("spaced digits are refused with a reason, not read as one number", () => {
    const v = verifyResponse("\\boxed{32 349}", "32349", { symbolic: false });
    expect(v).toMatchObject({ correct: false, status: "bad-answer", reason: "numbers separated only by a space ('32 349'): not one number" });
  });
});
