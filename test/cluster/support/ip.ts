// Thin synchronous wrappers over iproute2. Synchronous on purpose: teardown must also run from an `exit`
// handler or a signal handler, where nothing asynchronous completes.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

export class IpCommandError extends Error {
  override name = "IpCommandError";
}

/** `ip <args>`; throws with the command and iproute2's message on failure. */
export function ip(...args: string[]): string {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.status !== 0) throw new IpCommandError(`ip ${args.join(" ")}: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
  return r.stdout;
}

/** Like ip(), for teardown: a failure (already gone) is not an error there. */
export function ipQuiet(...args: string[]): boolean {
  return spawnSync("ip", args, { stdio: "ignore" }).status === 0;
}

/** Names of every network namespace (`ip netns list` prints `name (id: n)`). */
export function netnsList(): string[] {
  const r = spawnSync("ip", ["netns", "list"], { encoding: "utf8" });
  if (r.status !== 0) return [];
  return r.stdout.split("\n").map((l) => l.trim().split(/\s+/)[0]).filter(Boolean);
}

/** PIDs of every process whose network namespace is `ns`, whatever its process group or parent. */
export function netnsPids(ns: string): number[] {
  const r = spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" });
  if (r.status !== 0) return [];
  return r.stdout.split("\n").map(Number).filter((n) => Number.isInteger(n) && n > 0);
}

/** Link names in a namespace (`ip -o link` lines: `2: eth0@if5: <...>`), or in the root one without `ns`. */
export function linkNames(ns?: string): string[] {
  const out = execFileSync("ip", [...(ns ? ["-n", ns] : []), "-o", "link"], { encoding: "utf8" });
  return out.split("\n").filter(Boolean).map((l) => l.split(":")[1].trim().split("@")[0]);
}

/** Whether a process runs: a zombie (killed, not yet reaped by its parent) counts as gone. */
export function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    /* no /proc entry: gone (or no procfs: ask the kernel below) */
  }
  if (existsSync("/proc/self")) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
