// The suite's answer when this machine cannot build a cluster: a visible skip with the reason, or under
// CI a failing test with the same reason.
import { describe, it } from "vitest";
import { clusterPreflight, skipIsFailure } from "./preflight.js";

/** Runs `body` as a describe block when a cluster can be built here; otherwise skips (or fails, in CI). */
export function describeCluster(title: string, body: () => void): void {
  const pre = clusterPreflight();
  if (pre.ok) {
    describe(title, body);
    return;
  }
  describe(title, () => {
    if (skipIsFailure) {
      it(`${title} - can run (CI=true: a skipped cluster suite fails the run)`, () => {
        throw new Error(`cluster suite cannot run: ${pre.reason}`);
      });
    } else {
      process.stderr.write(`[cluster] skipping '${title}': ${pre.reason}\n`);
      it.skip(`${title} - skipped: ${pre.reason}`, () => undefined);
    }
  });
}
