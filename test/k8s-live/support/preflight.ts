// What the live check needs of the machine: what the cluster suite needs (root, iproute2, network
// namespaces) and nftables' `nft`, which enforces NetworkPolicies and Service virtual IPs.
import { spawnSync } from "node:child_process";
import { clusterPreflight, type Preflight } from "../../cluster/support/preflight.js";

export function livePreflight(env: { uid?: number; ip?: string; nft?: string } = {}): Preflight {
  const base = clusterPreflight({ uid: env.uid, ip: env.ip });
  if (!base.ok) return { ok: false, reason: base.reason.replace("the cluster suite", "the live k8s check") };
  if (spawnSync(env.nft ?? "nft", ["--version"], { stdio: "ignore" }).status !== 0) {
    return { ok: false, reason: "the live k8s check needs nftables' `nft` (apt-get install nftables; scripts/bootstrap.mjs installs it as root)" };
  }
  return { ok: true };
}
