// The CAS worker's program, as JavaScript source for `new Worker(source, { eval: true })`. It is a
// string (not a .ts module) so that the same worker starts under tsx, vitest and compiled dist alike;
// it stays this short so that all the logic worth testing lives on the main side.
//
// Protocol over one SharedArrayBuffer (see symbolic.ts): Int32 slot 0 is the state, slot 1 the request
// length, slot 2 the response; bytes from offset 16 carry the request as JSON {a, b, ms}.
//   STARTING -> READY | FAILED; main writes a request and sets REQUEST; worker answers and sets
//   RESPONSE; main reads the answer and sets READY again.
// The worker answers 1 (equal), 0 (not shown equal) or -1 (error / the engine's own time limit).

export const CAS_STATE = { STARTING: 0, READY: 1, REQUEST: 2, RESPONSE: 3, FAILED: 4 } as const;
export const CAS_HEADER_BYTES = 16;

export const CAS_WORKER_SOURCE = `
"use strict";
const { workerData } = require("node:worker_threads");
const S = ${JSON.stringify(CAS_STATE)};
const ctl = new Int32Array(workerData.buffer, 0, 4);
const bytes = new Uint8Array(workerData.buffer, ${CAS_HEADER_BYTES});
function signal(state) { Atomics.store(ctl, 0, state); Atomics.notify(ctl, 0); }
function judge(ce, a, b) {
  const A = ce.parse(a), B = ce.parse(b);
  if (!A.isValid || !B.isValid) return 0;
  // Equal only when the difference simplifies to exactly 0: no numeric tolerance, so 1/3 and
  // 0.3333333333333333 differ, and anything involving infinity or NaN is never equal.
  return ce.box(["Subtract", A, B]).simplify().is(0) === true ? 1 : 0;
}
function main() {
  let ce;
  try {
    const { ComputeEngine } = require(workerData.enginePath);
    ce = new ComputeEngine();
    judge(ce, "2\\\\sqrt{2}", "\\\\sqrt{8}"); // warm the parser and simplifier before declaring READY
  } catch (e) {
    signal(S.FAILED);
    return;
  }
  signal(S.READY);
  const decoder = new TextDecoder();
  for (;;) {
    Atomics.wait(ctl, 0, S.READY);
    if (Atomics.load(ctl, 0) !== S.REQUEST) continue;
    let answer = -1;
    try {
      const req = JSON.parse(decoder.decode(bytes.slice(0, ctl[1])));
      answer = ce.withTimeLimit(req.ms, () => judge(ce, req.a, req.b));
    } catch (e) {
      answer = -1;
    }
    Atomics.store(ctl, 2, answer);
    signal(S.RESPONSE);
  }
}
main();
`;
