// `lspo verify <cases.jsonl>`: runs the math answer verifier (the RLVR reward) over a file of cases.
// Contract: exactly one output line per input line, in order, so outputs zip with inputs by position.
// A malformed line still gets its output line, `{"error": "line N: ..."}` (also written to stderr), and
// the command exits 1 after the whole file; whitespace-only lines are not cases and get no line.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { EXTRACT_MODES, REWARD_SCHEMES, SymbolicChecker, rewardScheme, verifyResponse, type ExtractMode } from "@lspo/tasks";

export const summary = "verify answers: reads JSONL {\"response\", \"answer\"} and prints {\"correct\": boolean} per line";

const USAGE = `usage: lspo verify <cases.jsonl | -> [--details] [--extract strict|lenient] [--reward <scheme>] [--numeric-only]

Reads one JSON object per line, {"response": string, "answer": string} (other fields are ignored), and
prints one line per input line, in order: {"correct": true|false}. "-" reads stdin.

--details        also print the status (correct, wrong, no-answer, bad-answer, bad-gold, undecided) and
                 its reason, the extracted answer, the compared gold answer, the marker that found the
                 answer (boxed, hashes, answer-is, final-answer, math, last-number), the comparison
                 that decided, and the reward
--extract        strict (default: \\boxed, ####, "the answer is", "Final Answer:" only, as for rewards)
                 or lenient (also the last math span or number, as evaluation graders do)
--reward         reward scheme for --details: ${Object.keys(REWARD_SCHEMES).join(", ")} (default zero-one)
--numeric-only   no symbolic (CAS) comparison: numbers, lists and exact text only

A malformed line prints {"error": "line N: <what is wrong>"} in its place (and the same on stderr);
the exit code is then 1, after all lines are processed. Blank lines are skipped.`;

const OPTIONS = {
  details: { type: "boolean" },
  reward: { type: "string" },
  extract: { type: "string" },
  "numeric-only": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

type Case = { response: string; answer: string };

/** The case on a line, or the reason it is not one. */
function parseCase(line: string): Case | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    return `invalid JSON: ${(e as Error).message}`;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return `expected an object {"response": string, "answer": string}, got ${Array.isArray(value) ? "an array" : JSON.stringify(value)}`;
  }
  const record = value as Record<string, unknown>;
  for (const key of ["response", "answer"]) {
    const v = record[key];
    if (typeof v !== "string") return `"${key}" must be a string (got ${v === undefined ? "nothing" : v === null ? "null" : typeof v})`;
  }
  return record as Case;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true });
  if (values.help) return (console.log(USAGE), 0);
  if (positionals.length !== 1) {
    console.error(`lspo verify: expected one input file (or "-" for stdin), got ${positionals.length}\n\n${USAGE}`);
    return 2;
  }
  const reward = (values.reward ?? "zero-one") as keyof typeof REWARD_SCHEMES;
  rewardScheme(reward); // an unknown scheme fails here, naming the valid ones, before any line is read
  const extract = (values.extract ?? "strict") as ExtractMode;
  if (!EXTRACT_MODES.includes(extract)) {
    console.error(`lspo verify: unknown --extract '${extract}'. Valid modes: ${EXTRACT_MODES.join(", ")}`);
    return 2;
  }
  const path = positionals[0];
  const input = path === "-" ? process.stdin : createReadStream(path);
  const opened = new Promise<void>((resolve, reject) => {
    if (path === "-") return resolve();
    input.once("open", () => resolve());
    input.once("error", (e: Error) => reject(new Error(`cannot read '${path}': ${e.message}`)));
  });
  await opened;

  const symbolic = values["numeric-only"] ? false : new SymbolicChecker();
  let failures = 0;
  let lineNo = 0;
  try {
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      lineNo++;
      if (line.trim() === "") continue;
      const parsed = parseCase(line);
      if (typeof parsed === "string") {
        const error = `line ${lineNo}: ${parsed}`;
        console.error(`lspo verify: ${path}: ${error}`);
        process.stdout.write(`${JSON.stringify({ error })}\n`);
        failures++;
        continue;
      }
      const v = verifyResponse(parsed.response, parsed.answer, { reward, symbolic, extract });
      const out = values.details
        ? {
            correct: v.correct, status: v.status, ...(v.reason ? { reason: v.reason } : {}), reward: v.reward,
            extracted: v.extracted ?? null, gold: v.gold ?? null, marker: v.marker ?? null, by: v.by,
          }
        : { correct: v.correct };
      process.stdout.write(`${JSON.stringify(out)}\n`);
    }
  } finally {
    if (symbolic) symbolic.dispose();
  }
  if (failures > 0) console.error(`lspo verify: ${failures} malformed line(s) in ${path}`);
  return failures > 0 ? 1 : 0;
}
