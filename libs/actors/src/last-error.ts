// Why an actor process exited, from the tail of its log: the agent's "exited (code 1)" line names it, so an
// exit seen once in a long run (a CI log, a chaos record) says its cause where the run dir is long gone.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";

/** How much of the log's end is read: an exit's last lines, not the whole log. */
const TAIL_BYTES = 64 * 1024;
/** The most characters of the reason given (a stack or a payload stays in the log). */
const MAX_REASON = 400;
/** pino's error level: error (50) and fatal (60) lines say why a service stopped. */
const ERROR_LEVEL = 50;
/** What Node prints for an uncaught throw: `Error: boom`, `TypeError [ERR_X]: ...`, `AbortError: ...`. */
const UNCAUGHT = /^[A-Za-z]*Error(?: \[[A-Z0-9_]+\])?: /;

/**
 * The last error a log tells, newest first: a JSON log line at level error or above (its `msg`, and its
 * `err` when there is one), or the message line Node prints for an uncaught throw. null when the log has
 * neither, or cannot be read.
 */
export function lastErrorIn(path: string): string | null {
  let text: string;
  try {
    text = readTail(path, TAIL_BYTES);
  } catch {
    return null;
  }
  const lines = text.split("\n");
  for (let i = lines.length - 1; i >= 0; i--) {
    const reason = errorOf(lines[i].trim());
    if (reason) return reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON)}…` : reason;
  }
  return null;
}

function errorOf(line: string): string | null {
  if (line.startsWith("{")) {
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      return null; // a line cut by the tail's start, or not ours
    }
    if (typeof record !== "object" || record === null) return null;
    const { level, msg, err } = record as { level?: unknown; msg?: unknown; err?: unknown };
    if (typeof level !== "number" || level < ERROR_LEVEL) return null;
    const what = typeof msg === "string" && msg ? msg : `log level ${level}`;
    const detail = typeof err === "string" ? err : typeof err === "object" && err !== null && typeof (err as { message?: unknown }).message === "string" ? (err as { message: string }).message : null;
    return detail ? `${what}: ${detail}` : what;
  }
  return UNCAUGHT.test(line) ? line : null;
}

function readTail(path: string, bytes: number): string {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, bytes);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    return buf.toString("utf8");
  } finally {
    closeSync(fd);
  }
}
