// The skip rule of test/cluster/support/skip.ts, with the live check's own preflight (it also needs nft):
// skipped with the reason on a machine that cannot build the cluster, a failing test under CI=true.
import { describe, it } from "vitest";
import { skipIsFailure } from "../../cluster/support/preflight.js";
import { livePreflight } from "./preflight.js";

export function describeLive(title: string, body: () => void): void {
  const pre = livePreflight();
  if (pre.ok) {
    describe(title, body);
    return;
  }
  describe(title, () => {
    if (skipIsFailure) {
      it(`${title} - can run (CI=true: a skipped live check fails the run)`, () => {
        throw new Error(`live k8s check cannot run: ${pre.reason}`);
      });
    } else {
      process.stderr.write(`[k8s-live] skipping '${title}': ${pre.reason}\n`);
      it.skip(`${title} - skipped: ${pre.reason}`, () => undefined);
    }
  });
}
