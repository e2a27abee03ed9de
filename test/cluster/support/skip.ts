// The suite's answer when this machine cannot build a cluster: a visible skip with the reason, or under
// CI a failing test with the same reason.
import { describe, it } from "vitest";
import { clusterPreflight, skipIsFailure, type Preflight } from "./preflight.js";

/** Runs `body` as a describe block when `pre` says it can run; otherwise skips (or fails, in CI), naming `suite`. */
export function describeWhen(title: string, pre: Preflight, suite: { tag: string; name: string }, body: () => void): void {
  if (pre.ok) {
    describe(title, body);
    return;
  }
  describe(title, () => {
    if (skipIsFailure) {
      it(`${title} - can run (CI=true: a skipped ${suite.name} fails the run)`, () => {
        throw new Error(`${suite.name} cannot run: ${pre.reason}`);
      });
    } else {
      process.stderr.write(`[${suite.tag}] skipping '${title}': ${pre.reason}\n`);
      it.skip(`${title} - skipped: ${pre.reason}`, () => undefined);
    }
  });
}

/** Runs `body` as a describe block when a cluster can be built here; otherwise skips (or fails, in CI). */
export function describeCluster(title: string, body: () => void): void {
  describeWhen(title, clusterPreflight(), { tag: "cluster", name: "cluster suite" }, body);
}
