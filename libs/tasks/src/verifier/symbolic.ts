// Symbolic equivalence through a computer algebra system: @cortex-js/compute-engine, which parses
// LaTeX natively. Two guards make it safe to call on model output:
//   1. a budget (symbolicBudget) refuses, before any parsing, the inputs that make a CAS slow: long
//      expressions, big literals, exponent towers, factorials, scientific notation, unknown commands.
//      Measured: `2^{100000000}` takes 5 s and `1e999999` over 60 s in the engine, in BigInt code
//      that its own time limit does not interrupt;
//   2. a hard wall-clock limit: the engine runs in a worker thread and the caller waits on an Atomics
//      slot with a timeout; past it the worker is terminated (and a new one started on the next call).
//      JavaScript cannot interrupt synchronous code in the same thread, so this is the only guard that
//      holds for inputs nobody has thought of yet.
// The call is synchronous (the verifier is a plain function) and costs a few milliseconds when warm.

import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { CAS_ANSWER, CAS_HEADER_BYTES, CAS_STATE, CAS_WORKER_SOURCE } from "./cas-worker-source.js";
import { readArgument } from "./latex.js";

export interface SymbolicOptions {
  /** The engine's own time limit for one comparison (it checks it between steps), in ms. */
  engineLimitMs: number;
  /** Hard limit for one comparison, including the engine's, in ms; past it the worker is killed. */
  hardLimitMs: number;
  /** Hard limit for starting a worker (loading the engine: ~0.2 s idle, more on a loaded machine), in ms. */
  startupLimitMs: number;
}

export const DEFAULT_SYMBOLIC_OPTIONS: SymbolicOptions = { engineLimitMs: 300, hardLimitMs: 2000, startupLimitMs: 20_000 };

/** Longest expression handed to the CAS; real final answers are far shorter. */
export const MAX_SYMBOLIC_CHARS = 200;

/** Commands the CAS may see. Anything else (\int, \sum, \lim, matrices, ...) is not compared symbolically. */
const ALLOWED_COMMANDS = new Set([
  "frac", "sqrt", "pi", "cdot", "times", "div", "sin", "cos", "tan", "sec", "csc", "cot",
  "arcsin", "arccos", "arctan", "log", "ln", "exp", "alpha", "beta", "gamma", "delta", "theta",
  "lambda", "mu", "phi", "omega", "sigma", "tau", "rho", "epsilon", "varepsilon", "varphi", "psi",
  "sinh", "cosh", "tanh", "arcsec", "arccsc", "arccot",
]);

/** What the CAS made of a comparison; `reason` says why when it could not decide. */
export type SymbolicOutcome =
  | { answer: "equal" | "not-shown" | "negative" }
  | { answer: "refused" | "timeout" | "error" | "unavailable"; reason: string };

/** "equal": is a = b? "proportional": is a = k*b for a constant k != 0 (answer "negative" when k < 0)? */
export type SymbolicOp = "equal" | "proportional";

/** Why an expression is refused by the budget, or undefined when the CAS may look at it. */
export function symbolicBudget(s: string): string | undefined {
  if (s.length > MAX_SYMBOLIC_CHARS) return `longer than ${MAX_SYMBOLIC_CHARS} characters`;
  if (!/[A-Za-z0-9]/.test(s)) return "no digit, letter or command: nothing to compare";
  if (s.includes("!")) return "factorial";
  if (/\d[eE][+-]?\d/.test(s)) return "scientific notation";
  if (/\d{16}/.test(s)) return "a literal of more than 15 digits";
  for (const m of s.matchAll(/\\([A-Za-z]+)/g)) if (!ALLOWED_COMMANDS.has(m[1])) return `command \\${m[1]}`;
  let depth = 0;
  for (const c of s) {
    if ("({[".includes(c)) depth++;
    else if (")}]".includes(c)) depth--;
    if (depth > 8) return "nesting deeper than 8";
  }
  for (const m of s.matchAll(/\^/g)) {
    const exponent = readArgument(s, m.index + 1);
    if (!exponent) return "an exponent without argument";
    if (exponent.text.length > 8 || exponent.text.includes("^") || /\d{3}/.test(exponent.text)) {
      return `exponent '${exponent.text.slice(0, 20)}' (at most 8 characters, no tower, integers below 100)`;
    }
  }
  return undefined;
}

const DATA_BYTES = 64 * 1024;

/**
 * One CAS worker behind a synchronous `equal(a, b)`. Answers true (shown equal), false (not shown
 * equal) or undefined (refused by the budget, timed out, or the engine failed): callers treat anything
 * but true as "not equivalent".
 */
export class SymbolicChecker {
  readonly options: SymbolicOptions;
  private worker: Worker | undefined;
  /** performance.now() when the current worker was spawned: its startup limit counts from here. */
  private spawnedAt = 0;
  private ctl: Int32Array | undefined;
  private bytes: Uint8Array | undefined;
  /** Set when the engine cannot start at all: no use waiting for it on every call. */
  private unavailable: string | undefined;

  constructor(options: Partial<SymbolicOptions> = {}) {
    this.options = { ...DEFAULT_SYMBOLIC_OPTIONS, ...options };
  }

  /** Why the checker cannot answer, or undefined while it can. */
  get failure(): string | undefined {
    return this.unavailable;
  }

  /** `limitMs` lowers both limits for this call (the caller's own deadline); it never raises them. */
  equal(a: string, b: string, limitMs = Infinity): boolean | undefined {
    const outcome = this.check(a, b, limitMs);
    return outcome.answer === "equal" ? true : outcome.answer === "not-shown" ? false : undefined;
  }

  /** The comparison with its outcome named: refused (and why), timed out, failed, or decided. */
  check(a: string, b: string, limitMs = Infinity, op: SymbolicOp = "equal"): SymbolicOutcome {
    if (this.unavailable) return { answer: "unavailable", reason: this.unavailable };
    const refused = symbolicBudget(a) ?? symbolicBudget(b);
    if (refused !== undefined) return { answer: "refused", reason: `the CAS refuses this input: ${refused}` };
    const t0 = performance.now();
    if (!(limitMs > 0)) return { answer: "timeout", reason: "the verification's CAS time budget was spent" };
    // A (re)start is waited for within the caller's limit (the verification's budget), not the
    // comparison's own hard limit: a fresh worker after a kill must not make the next comparison fail.
    const started = this.start(limitMs);
    if (started === "failed") return { answer: "unavailable", reason: this.unavailable ?? "the CAS worker did not start" };
    const hardLimitMs = Math.min(this.options.hardLimitMs, limitMs - (performance.now() - t0));
    if (started === "starting" || !(hardLimitMs > 0)) return { answer: "timeout", reason: "the CAS worker was still starting when the time for this comparison ran out" };
    const engineLimitMs = Math.max(1, Math.min(this.options.engineLimitMs, hardLimitMs));
    const request = new TextEncoder().encode(JSON.stringify({ op, a, b, ms: engineLimitMs }));
    if (request.length > DATA_BYTES) return { answer: "refused", reason: "the CAS request is too large" };
    const ctl = this.ctl!;
    this.bytes!.set(request);
    Atomics.store(ctl, 1, request.length);
    Atomics.store(ctl, 0, CAS_STATE.REQUEST);
    Atomics.notify(ctl, 0);
    if (!this.waitWhile(CAS_STATE.REQUEST, hardLimitMs)) {
      this.kill(); // stuck in code the engine's own limit does not reach
      return { answer: "timeout", reason: `the CAS did not answer within ${Math.round(hardLimitMs)} ms (worker restarted)` };
    }
    const answer = Atomics.load(ctl, 2);
    Atomics.store(ctl, 0, CAS_STATE.READY);
    if (answer === CAS_ANSWER.EQUAL) return { answer: "equal" };
    if (answer === CAS_ANSWER.NEGATIVE) return { answer: "negative" };
    if (answer === CAS_ANSWER.NOT_SHOWN) return { answer: "not-shown" };
    return { answer: "error", reason: `the CAS failed or passed its own ${engineLimitMs} ms limit` };
  }

  /** Starts the worker now (it otherwise starts on the first comparison); returns whether it is ready. */
  warmUp(): boolean {
    return this.start() === "ready";
  }

  dispose(): void {
    this.kill();
  }

  /**
   * Starts the worker if there is none and waits for it, up to the startup limit counted from its spawn
   * and up to the caller's `limitMs`: "starting" when the caller's limit came first (the worker goes on
   * loading, for the next call), "failed" (for good) when the startup limit passed or the engine failed.
   */
  private start(limitMs = Infinity): "ready" | "starting" | "failed" {
    if (this.unavailable) return "failed";
    if (!this.worker) {
      const buffer = new SharedArrayBuffer(CAS_HEADER_BYTES + DATA_BYTES);
      let enginePath: string;
      try {
        enginePath = createRequire(import.meta.url).resolve("@cortex-js/compute-engine");
      } catch (e) {
        this.unavailable = `cannot resolve @cortex-js/compute-engine: ${(e as Error).message}`;
        return "failed";
      }
      const worker = new Worker(CAS_WORKER_SOURCE, { eval: true, workerData: { buffer, enginePath } });
      worker.unref(); // never keep a process alive just for the CAS
      worker.on("error", () => {}); // a dying worker is handled by the timeouts, not as an uncaught error
      this.worker = worker;
      this.ctl = new Int32Array(buffer, 0, 4);
      this.bytes = new Uint8Array(buffer, CAS_HEADER_BYTES);
      this.spawnedAt = performance.now();
    }
    const startupEnd = this.spawnedAt + this.options.startupLimitMs;
    if (Atomics.load(this.ctl!, 0) === CAS_STATE.STARTING) this.waitWhile(CAS_STATE.STARTING, Math.min(startupEnd - performance.now(), limitMs));
    const state = Atomics.load(this.ctl!, 0);
    if (state === CAS_STATE.STARTING && performance.now() < startupEnd) return "starting";
    if (state === CAS_STATE.STARTING || state === CAS_STATE.FAILED) {
      this.unavailable = state === CAS_STATE.FAILED ? "the CAS worker could not load the engine" : `the CAS worker did not start within ${this.options.startupLimitMs} ms`;
      this.kill();
      return "failed";
    }
    return "ready";
  }

  /** Blocks while slot 0 holds `state`, up to `ms`; true when the state changed in time. */
  private waitWhile(state: number, ms: number): boolean {
    const ctl = this.ctl!;
    const deadline = performance.now() + ms;
    while (Atomics.load(ctl, 0) === state) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      Atomics.wait(ctl, 0, state, left);
    }
    return true;
  }

  private kill(): void {
    const worker = this.worker;
    this.worker = this.ctl = this.bytes = undefined;
    if (worker) void worker.terminate().catch(() => {});
  }
}

let shared: SymbolicChecker | undefined;

/** The process-wide checker the verifier uses by default (one worker per process). */
export function sharedSymbolicChecker(): SymbolicChecker {
  shared ??= new SymbolicChecker();
  return shared;
}
