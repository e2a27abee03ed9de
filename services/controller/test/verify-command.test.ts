// `lspo verify` end to end through the real launcher: one output line per input line, in order.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../../..");

// A command takes ~2 s alone. One CI run saw it end with exit 1 and nothing on stderr, which is how the launcher
// reported a killed child; this test's old 60-s timeout is the likeliest killer (the log did not say). The kill is
// now reported as one, so a command that times out fails here naming the signal.
const COMMAND_TIMEOUT_MS = 150_000;

function lspo(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [join(root, "scripts/lspo.mjs"), ...args], { input, encoding: "utf8", timeout: COMMAND_TIMEOUT_MS });
  if (r.signal !== null) throw new Error(`lspo ${args.join(" ")} was killed by ${r.signal}${r.error ? ` (${r.error.message})` : ""}; stderr: ${r.stderr}`);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, lines: r.stdout.split("\n").filter((l) => l !== "") };
}

function casesFile(lines: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "lspo-verify-"));
  const path = join(dir, "cases.jsonl");
  writeFileSync(path, lines.join("\n") + "\n");
  return path;
}

const c = (response: string, answer: string) => JSON.stringify({ response, answer });

describe("lspo verify", { timeout: COMMAND_TIMEOUT_MS + 10_000 }, () => {
  it("prints {correct} per line, in order", () => {
    const path = casesFile([
      c("so \\boxed{2\\sqrt{2}}", "\\sqrt{8}"),
      c("#### 5", "6"),
      c("The answer is 1,000.", "\\boxed{1000}"),
      JSON.stringify({ response: "\\boxed{3}", answer: "3", id: 7 }),
    ]);
    const r = lspo(["verify", path]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.lines.map((l) => JSON.parse(l))).toEqual([{ correct: true }, { correct: false }, { correct: true }, { correct: true }]);
  });

  it("keeps one line per input for malformed lines, names their line numbers, and exits 1", () => {
    const path = casesFile([c("\\boxed{1}", "1"), "", "{oops", JSON.stringify({ response: "x" }), "[1]", c("\\boxed{2}", "1")]);
    const r = lspo(["verify", path]);
    expect(r.code).toBe(1);
    expect(r.lines.map((l) => JSON.parse(l))).toEqual([
      { correct: true },
      { error: expect.stringMatching(/^line 3: invalid JSON/) },
      { error: 'line 4: "answer" must be a string (got nothing)' },
      { error: 'line 5: expected an object {"response": string, "answer": string}, got an array' },
      { correct: false },
    ]);
    expect(r.stderr).toContain(`${path}: line 3: invalid JSON`);
    expect(r.stderr).toContain("3 malformed line(s)");
  });

  it("reads stdin with -, and --details reports the extraction and the reward", () => {
    const r = lspo(["verify", "-", "--details", "--reward", "plus-minus-one"], c("\\boxed{\\frac{6}{8}}", "0.7") + "\n");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.lines[0])).toEqual({ correct: false, status: "wrong", reward: -1, extracted: "\\frac{6}{8}", gold: "0.7", marker: "boxed", by: "number" });
  });

  it("--numeric-only turns the CAS off", () => {
    const r = lspo(["verify", "-", "--numeric-only"], c("\\boxed{2\\sqrt{2}}", "\\sqrt{8}") + "\n");
    expect(r.lines).toEqual(['{"correct":false}']);
  });

  it("--extract lenient also takes the last math span or number; strict (the default) does not", () => {
    const input = [c("We conclude\n\\[9\\]", "9"), c("So 12 cookies are left.", "12"), c("Final Answer: The largest $n$ is 34.", "34")].join("\n") + "\n";
    expect(lspo(["verify", "-"], input).lines.map((l) => JSON.parse(l))).toEqual([{ correct: false }, { correct: false }, { correct: true }]);
    const lenient = lspo(["verify", "-", "--extract", "lenient", "--details"], input);
    expect(lenient.lines.map((l) => JSON.parse(l)).map((v) => [v.correct, v.marker])).toEqual([[true, "math"], [true, "last-number"], [true, "final-answer"]]);
  });

  it("--details names what was wrong: no answer, a malformed answer", () => {
    const r = lspo(["verify", "-", "--details", "--numeric-only"], [c("I think 42", "42"), c("\\boxed{32 349}", "32349")].join("\n") + "\n");
    const [none, spaced] = r.lines.map((l) => JSON.parse(l));
    expect(none).toMatchObject({ correct: false, status: "no-answer", reason: expect.stringContaining("no final answer") });
    expect(spaced).toMatchObject({ correct: false, status: "bad-answer", reason: "numbers separated only by a space ('32 349'): not one number" });
  });

  it("names an unknown --extract mode", () => {
    const r = lspo(["verify", "--extract", "loose", "-"], "");
    expect(r.stderr).toContain("unknown --extract 'loose'. Valid modes: strict, lenient");
    expect(r.code).toBe(2);
  });

  it("names an unknown flag, a missing file and an unknown reward scheme", () => {
    expect(lspo(["verify", "--bogus", "x"]).stderr).toContain("Unknown option '--bogus'");
    expect(lspo(["verify", "/nonexistent/cases.jsonl"]).stderr).toContain("cannot read '/nonexistent/cases.jsonl'");
    const r = lspo(["verify", "--reward", "binary", "-"], "");
    expect(r.stderr).toContain("unknown reward scheme 'binary'. Valid schemes: zero-one, plus-minus-one");
    expect(r.code).toBe(1);
  });
});
