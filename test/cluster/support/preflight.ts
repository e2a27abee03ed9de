// Whether this machine can build a cluster: root, iproute2, and a kernel/container that lets us make
// network namespaces. The answer carries the reason, which the suite prints when it skips (and which fails
// the run under CI=true: a CI job that silently skips the cluster suite would prove nothing).
import { randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";

export type Preflight = { ok: true } | { ok: false; reason: string };

/** `uid` and `ip` are parameters so the skip reasons can be tested on a machine that has both. */
export function clusterPreflight(env: { uid?: number; ip?: string } = {}): Preflight {
  const uid = env.uid ?? (typeof process.getuid === "function" ? process.getuid() : -1);
  const ipCmd = env.ip ?? "ip";
  if (uid !== 0) {
    return { ok: false, reason: "the cluster suite needs root (it makes network namespaces); run it as root or in a privileged container" };
  }
  if (spawnSync(ipCmd, ["-V"], { stdio: "ignore" }).status !== 0) {
    return { ok: false, reason: "the cluster suite needs iproute2's `ip` (apt-get install iproute2; scripts/bootstrap.mjs installs it as root)" };
  }
  const probe = `lspoc-pre-${randomBytes(3).toString("hex")}`;
  const add = spawnSync(ipCmd, ["netns", "add", probe], { encoding: "utf8" });
  if (add.status !== 0) {
    return { ok: false, reason: `\`ip netns add\` failed here (${add.stderr.trim()}): a container needs CAP_SYS_ADMIN and CAP_NET_ADMIN` };
  }
  spawnSync(ipCmd, ["netns", "del", probe], { stdio: "ignore" });
  return { ok: true };
}

/** True when a skip must fail the run instead (CI=true or CI=1). */
export const skipIsFailure = isCi(process.env.CI);

export function isCi(value: string | undefined): boolean {
  return /^(true|1)$/i.test(value ?? "");
}
