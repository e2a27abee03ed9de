// The skip rule of test/cluster/support/skip.ts, with the live check's own preflight (it also needs nft):
// skipped with the reason on a machine that cannot build the cluster, a failing test under CI=true.
import { describeWhen } from "../../cluster/support/skip.js";
import { livePreflight } from "./preflight.js";

export function describeLive(title: string, body: () => void): void {
  describeWhen(title, livePreflight(), { tag: "k8s-live", name: "live k8s check" }, body);
}
