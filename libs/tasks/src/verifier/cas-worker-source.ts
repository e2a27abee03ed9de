// The CAS worker's program, as JavaScript source for `new Worker(source, { eval: true })`. It is a
// string (not a .ts module) so that the same worker starts under tsx, vitest and compiled dist alike;
// it stays this short so that all the logic worth testing lives on the main side.
//
// Protocol over one SharedArrayBuffer (see symbolic.ts): Int32 slot 0 is the state, slot 1 the request
// length, slot 2 the response; bytes from offset 16 carry the request as JSON {op, a, b, ms}.
//   STARTING -> READY | FAILED; main writes a request and sets REQUEST; worker answers and sets
//   RESPONSE; main reads the answer and sets READY again.
// Answers (CAS_ANSWER): EQUAL, NOT_SHOWN, ERROR (or the engine's own time limit), and for op
// "proportional" (a = k * b for a constant k) also NEGATIVE (k < 0), which an inequality must not accept.
//
// op "equal": exact first (the difference simplifies to 0). Only when that fails and the expressions have
// the same variables (and no decimal literal) does it probe: both sides are evaluated at fixed points (negative and positive, none
// a "nice" number) and must agree wherever either is defined, at 3 points at least. Constants are
// never probed: `\sqrt2` and `1.4142135623730951` stay different. The probe is what catches identities
// the simplifier misses; a false "equal" would need two different expressions to agree to 1e-12 at all
// of these points.
// op "proportional": k is read off one probe point, snapped to a small fraction, then a - k*b is
// judged like "equal" (exact, then probed).

export const CAS_STATE = { STARTING: 0, READY: 1, REQUEST: 2, RESPONSE: 3, FAILED: 4 } as const;
export const CAS_ANSWER = { ERROR: -1, NOT_SHOWN: 0, EQUAL: 1, NEGATIVE: 2 } as const;
export const CAS_HEADER_BYTES = 16;

export const CAS_WORKER_SOURCE = `
"use strict";
const { workerData } = require("node:worker_threads");
const S = ${JSON.stringify(CAS_STATE)};
const A = ${JSON.stringify(CAS_ANSWER)};
const ctl = new Int32Array(workerData.buffer, 0, 4);
const bytes = new Uint8Array(workerData.buffer, ${CAS_HEADER_BYTES});
const POINTS = [0.5377, -1.2309, 2.1743, -0.3187, 1.6211, 0.7741];
function signal(state) { Atomics.store(ctl, 0, state); Atomics.notify(ctl, 0); }
function at(ce, e, point) {
  const v = e.subs(point).N();
  return Number.isFinite(v.re) && Math.abs(v.im || 0) < 1e-12 ? v.re : undefined;
}
function points(ce, vars) {
  return POINTS.map((_, i) => Object.fromEntries(vars.map((v, j) => [v, ce.number(POINTS[(i + 2 * j) % POINTS.length])])));
}
/**
 * Is X = k*Y? Exact first; then, with variables, at the probe points: where one side is real and the
 * other is not (\\ln(x^2) vs 2\\ln x at x < 0) they differ; where both are real they must agree to 1e-12
 * (relative to |X|; double rounding on these small expressions stays near 1e-15); points where neither
 * is defined are skipped, and 3 must remain. No probing when either side has a decimal literal: a
 * decimal is an approximation, and \\sqrt2 x is not 1.4142135623730951 x.
 */
function agrees(ce, X, Y, k, probe) {
  const kY = k ? ce.box(["Multiply", ce.number(k), Y]) : Y;
  if (ce.box(["Subtract", X, kY]).simplify().is(0) === true) return true;
  const vars = X.unknowns;
  if (!probe || vars.length === 0 || vars.join() !== Y.unknowns.join()) return false; // constants: exact or nothing
  let valid = 0;
  for (const p of points(ce, vars)) {
    const x = at(ce, X, p), y = at(ce, kY, p);
    if (x === undefined && y === undefined) continue;
    if (x === undefined || y === undefined || Math.abs(x - y) > 1e-12 * Math.max(1, Math.abs(x))) return false;
    valid++;
  }
  return valid >= 3;
}
function parsePair(ce, a, b) {
  const X = ce.parse(a), Y = ce.parse(b);
  // "Nothing" is what a lone backslash parses to, and Nothing - 0 simplifies to 0: never an answer.
  const empty = (E) => JSON.stringify(E.json).includes('"Nothing"');
  return X.isValid && Y.isValid && !empty(X) && !empty(Y) ? [X, Y] : undefined;
}
const DECIMAL = /\\d?\\.\\d/;
function equal(ce, a, b) {
  const p = parsePair(ce, a, b);
  return p && agrees(ce, p[0], p[1], undefined, !DECIMAL.test(a + b)) ? A.EQUAL : A.NOT_SHOWN;
}
/** The fraction with denominator at most 1000 nearest to x, if within 1e-9 of it. */
function snap(x) {
  for (let q = 1; q <= 1000; q++) { const p = Math.round(x * q); if (Math.abs(p / q - x) < 1e-9 * Math.max(1, Math.abs(x))) return [p, q]; }
  return undefined;
}
function proportional(ce, a, b) {
  const p = parsePair(ce, a, b);
  if (!p) return A.NOT_SHOWN;
  const [X, Y] = p;
  if (X.unknowns.join() !== Y.unknowns.join() || X.unknowns.length === 0) return A.NOT_SHOWN;
  let k;
  for (const pt of points(ce, X.unknowns)) {
    const x = at(ce, X, pt), y = at(ce, Y, pt);
    if (x !== undefined && y !== undefined && Math.abs(y) > 1e-6) { k = snap(x / y); break; }
  }
  if (!k || k[0] === 0) return A.NOT_SHOWN;
  return agrees(ce, X, Y, k, !DECIMAL.test(a + b)) ? (k[0] > 0 ? A.EQUAL : A.NEGATIVE) : A.NOT_SHOWN;
}
function main() {
  let ce;
  try {
    const { ComputeEngine } = require(workerData.enginePath);
    ce = new ComputeEngine();
    equal(ce, "2\\\\sqrt{2}", "\\\\sqrt{8}"); // warm the parser and simplifier before declaring READY
  } catch (e) {
    signal(S.FAILED);
    return;
  }
  signal(S.READY);
  const decoder = new TextDecoder();
  for (;;) {
    Atomics.wait(ctl, 0, S.READY);
    if (Atomics.load(ctl, 0) !== S.REQUEST) continue;
    let answer = A.ERROR;
    try {
      const req = JSON.parse(decoder.decode(bytes.slice(0, ctl[1])));
      const judge = req.op === "proportional" ? proportional : equal;
      answer = ce.withTimeLimit(req.ms, () => judge(ce, req.a, req.b));
    } catch (e) {
      answer = A.ERROR;
    }
    Atomics.store(ctl, 2, answer);
    signal(S.RESPONSE);
  }
}
main();
`;
