#!/usr/bin/env node
// Makes a fresh clone runnable with nothing but Node 20 and apt: installs npm dependencies when
// node_modules is missing or older than package-lock.json, nats-server when it is not on PATH, and
// iproute2 (for the cluster suite) when `ip` is missing and we are root, and nftables (for the live k8s
// check, test/k8s-live) when `nft` is missing and we are root.
// Dependency-free on purpose: it runs before anything is installed.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;

function say(msg) {
  process.stderr.write(`[bootstrap] ${msg}\n`);
}

// npm records what it installed in node_modules/.package-lock.json (its "hidden lockfile"), written after
// every install. node_modules is stale when package-lock.json changed since (a pull, a new dependency).
function ensureNodeModules() {
  const lock = join(root, "package-lock.json");
  const hidden = join(root, "node_modules", ".package-lock.json");
  if (existsSync(hidden) && statSync(hidden).mtimeMs >= statSync(lock).mtimeMs) return;
  say(existsSync(join(root, "node_modules")) ? "package-lock.json changed: running npm ci" : "node_modules missing: running npm ci");
  // The CPU build of onnxruntime-node ships in the package; never let its postinstall download CUDA bits.
  const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: "skip" };
  const r = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: root, stdio: "inherit", env });
  if (r.status !== 0) {
    say("npm ci failed (see above). Fix the error and run the command again.");
    process.exit(r.status ?? 1);
  }
}

function onPath(cmd) {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

function ensureNatsServer() {
  if (process.env.LSPO_NATS_SERVER && existsSync(process.env.LSPO_NATS_SERVER)) return;
  if (onPath("nats-server") || existsSync("/usr/sbin/nats-server")) return;
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (onPath("apt-get") && (isRoot || onPath("sudo"))) {
    say("nats-server not found: installing Debian's nats-server package");
    const sudo = isRoot ? [] : ["sudo"];
    try {
      execFileSync(sudo.length ? "sudo" : "apt-get", [...(sudo.length ? ["apt-get"] : []), "update", "-qq"], { stdio: "inherit" });
      execFileSync(sudo.length ? "sudo" : "apt-get", [...(sudo.length ? ["apt-get"] : []), "install", "-y", "-qq", "nats-server"], {
        stdio: "inherit",
        env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      });
      return;
    } catch {
      say("apt-get install nats-server failed.");
    }
  }
  say(
    "nats-server (2.9 or newer) is required and was not found on PATH.\n" +
      "  Debian/Ubuntu: sudo apt-get install nats-server\n" +
      "  Elsewhere: install it from your package manager, or set LSPO_NATS_SERVER=/path/to/nats-server",
  );
  process.exit(1);
}

/**
 * A tool only root-only suites need: installed from Debian's package when missing and we are root. Without
 * root those suites skip (saying why) whether or not the tool is there, so nothing is installed then.
 */
function ensureRootTool({ binary, pkg, suite, why, without = `${suite} will skip` }) {
  if (onPath(binary) || existsSync(`/usr/sbin/${binary}`) || existsSync(`/sbin/${binary}`)) return;
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (!isRoot || !onPath("apt-get")) {
    say(`${pkg} (\`${binary}\`) not found: ${without}. Debian/Ubuntu: apt-get install ${pkg}`);
    return;
  }
  say(`${pkg} not found: installing Debian's ${pkg} package (${why})`);
  try {
    execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit" });
    execFileSync("apt-get", ["install", "-y", "-qq", pkg], { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  } catch {
    say(`apt-get install ${pkg} failed: ${without}.`);
  }
}

ensureNodeModules();
ensureNatsServer();
// iproute2's `ip` builds the cluster suite's hosts (network namespaces); nftables' `nft` enforces
// NetworkPolicies and Service virtual IPs in the live k8s check.
ensureRootTool({ binary: "ip", pkg: "iproute2", suite: "the cluster suite (test/cluster)", why: "the cluster suite needs `ip netns`" });
ensureRootTool({ binary: "nft", pkg: "nftables", suite: "the live k8s check (test/k8s-live)", why: "the live k8s check enforces NetworkPolicies with it" });
// util-linux's `setpriv` ties a single-host run's embedded nats-server to its controller (a parent-death
// signal); Debian always has it, a slimmed image may not.
ensureRootTool({
  binary: "setpriv", pkg: "util-linux", suite: "libs/bus/test/nats-server-parent.int.test.ts", why: "an embedded nats-server exits with its controller through it",
  without: "a killed single-host controller's nats-server runs on until a resume stops it, and libs/bus/test/nats-server-parent.int.test.ts fails",
});
