// What the node agent says an actor exited of: the last error its log tells (last-error.ts).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lastErrorIn } from "../src/last-error.js";

const dir = mkdtempSync(join(tmpdir(), "lspo-last-error-"));
let n = 0;
function logOf(...lines: string[]): string {
  const path = join(dir, `actor-${n++}.log`);
  writeFileSync(path, lines.join("\n") + "\n");
  return path;
}
const line = (o: Record<string, unknown>) => JSON.stringify({ time: 1, pid: 7, ...o });

describe("lastErrorIn", () => {
  it("names the newest line at level error or above, with its err", () => {
    const path = logOf(
      line({ level: 50, msg: "an older failure", err: "first" }),
      line({ level: 30, msg: "learner ready" }),
      line({ level: 50, msg: "learner loop failed", err: "TimeoutError: timeout" }),
      line({ level: 30, msg: "shutting down" }),
      line({ level: 40, msg: "a warning after it" }),
    );
    expect(lastErrorIn(path)).toBe("learner loop failed: TimeoutError: timeout");
  });

  it("takes a fatal line, an err object's message, and a line without err", () => {
    expect(lastErrorIn(logOf(line({ level: 60, msg: "fatal", err: { message: "no responders", code: "503" } })))).toBe("fatal: no responders");
    expect(lastErrorIn(logOf(line({ level: 50, msg: "sampler loop failed" })))).toBe("sampler loop failed");
  });

  it("reads the message Node prints for an uncaught throw", () => {
    const path = logOf(
      line({ level: 30, msg: "rollout ready" }),
      "file:///app/services/rollout/dist/main.js:12",
      "    throw new TypeError('x is not a function');",
      "    ^",
      "",
      "TypeError [ERR_INVALID_ARG_TYPE]: The \"data\" argument must be of type string",
      "    at main (file:///app/services/rollout/dist/main.js:12:11)",
      "",
      "Node.js v20.19.2",
    );
    expect(lastErrorIn(path)).toBe("TypeError [ERR_INVALID_ARG_TYPE]: The \"data\" argument must be of type string");
  });

  it("is null for a log with no error, a missing log, and lines that are not JSON objects", () => {
    expect(lastErrorIn(logOf(line({ level: 30, msg: "ready" }), line({ level: 40, msg: "slow" })))).toBeNull();
    expect(lastErrorIn(join(dir, "absent.log"))).toBeNull();
    expect(lastErrorIn(logOf("{not json", "[1,2]", "null", "{\"level\":\"50\",\"msg\":\"a string level\"}"))).toBeNull();
  });

  it("reads only the log's end, and shortens a long reason", () => {
    // The error is more than 64 KB before the end: an exit's cause is in its last lines, and a log of a long
    // run is not read whole.
    const filler = Array.from({ length: 2_000 }, (_, i) => line({ level: 30, msg: `step ${i}`, pad: "x".repeat(40) }));
    expect(lastErrorIn(logOf(line({ level: 50, msg: "long ago" }), ...filler))).toBeNull();
    const reason = lastErrorIn(logOf(line({ level: 50, msg: "failed", err: "y".repeat(1_000) })))!;
    expect(reason.startsWith("failed: yyy")).toBe(true);
    expect(reason).toHaveLength(401);
    expect(reason.endsWith("…")).toBe(true);
  });
});
