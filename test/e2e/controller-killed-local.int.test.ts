// The single-host `lspo train` (embedded NATS in its run dir, its own agent) SIGKILLed mid-run, as the kernel's
// OOM killer would: its actors and its nats-server (a parent-death signal) exit with it, the store never has
// two servers, and `lspo train --resume` finishes the run from the newest checkpoint with nothing lost or
// trained twice. Before, the server ran on, and the resume started a second one on the same store (a resume
// now also stops such a leftover itself: services/controller/test/leftover-nats.int.test.ts).
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cliProcesses } from "./support/cli-process.js";
import { exited, until } from "./support/wait.js";

const root = resolve(import.meta.dirname, "../..");
const { lspo, stopAll } = cliProcesses();
afterAll(() => stopAll());

/**
 * The run's processes still alive: its actors (the agent gives each LSPO_RUN_ID) and its embedded nats-server
 * (whose config names the run dir's store), read from /proc.
 */
function runProcesses(dir: string, runId: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const env = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      const conf = args[0].endsWith("nats-server") && args[1] === "-c" ? readFileSync(args[2], "utf8") : "";
      if (env.includes(`LSPO_RUN_ID=${runId}`) || conf.includes(dir)) found.push(`${pid}: ${args.join(" ")}`);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

describe("controller SIGKILLed on one host", { timeout: 600_000 }, () => {
  it("leaves no actor or nats-server behind, and --resume finishes the run with one server on the store", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lspo-controller-killed-local-"));
    const first = lspo(["train", "-c", join(root, "configs/smoke.yaml"), "run.name=killed-local", `run.dir=${dir}`, "run.steps=10", "run.timeoutS=120", "--quiet"]);
    await until("a checkpoint at step 2", () => existsSync(join(dir, "checkpoints/step-000002/state.json")), 180_000);
    // Its actors and its nats-server, found while it runs (so their absence below means they exited).
    const running = runProcesses(dir, "killed-local");
    expect(running.some((p) => p.includes("nats-server")), running.join("\n")).toBe(true);
    expect(running.filter((p) => p.includes(" serve ")).length, running.join("\n")).toBeGreaterThanOrEqual(4);
    first.child.kill("SIGKILL");
    await exited(first.child);
    const serversOf = () => runProcesses(dir, "killed-local").filter((p) => p.includes("nats-server"));
    await until("the killed run's processes to exit", () => runProcesses(dir, "killed-local").length === 0, 30_000).catch(() => undefined);
    expect(runProcesses(dir, "killed-local"), "processes of the killed run still running").toEqual([]);

    let mostServers = 0;
    const resumed = lspo(["train", "--resume", dir, "--quiet"]);
    const watch = setInterval(() => (mostServers = Math.max(mostServers, serversOf().length)), 100);
    await exited(resumed.child);
    clearInterval(watch);
    expect(resumed.child.exitCode, resumed.err().slice(-3000)).toBe(0);
    const result = JSON.parse(resumed.out().trim().split("\n").pop()!);
    expect(result).toMatchObject({ steps: 10, lost: 0, duplicates: 0 });
    expect(mostServers, "nats-servers on the run's store at once").toBe(1);
    expect(runProcesses(dir, "killed-local"), "processes of the run after the resume ended").toEqual([]);
  });
});
