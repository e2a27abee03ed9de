// scripts/lspo.mjs runs the CLI as its child. A child killed by a signal must show as killed by that signal,
// not as a bare exit 1 with nothing on stderr (which once read as a failed `lspo verify`: it had timed out).
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../../..");

/** The launcher's CLI child, once it exists (the launcher spawns it first thing). */
async function cliChildOf(launcherPid: number): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const children = readFileSync(`/proc/${launcherPid}/task/${launcherPid}/children`, "utf8").trim();
    if (children !== "") return Number(children.split(" ")[0]);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the launcher (pid ${launcherPid}) started no child within 10 s`);
}

describe("scripts/lspo.mjs", () => {
  it("passes on its CLI child's exit code", async () => {
    const launcher = spawn(process.execPath, [join(root, "scripts/lspo.mjs"), "no-such-command"], { stdio: "ignore" });
    const [code, signal] = await once(launcher, "exit");
    expect({ code, signal }).toEqual({ code: 2, signal: null });
  });

  it("dies by the signal that killed its CLI child", async () => {
    // `verify -` waits on stdin, which stays open: the child is alive until the kill.
    const launcher = spawn(process.execPath, [join(root, "scripts/lspo.mjs"), "verify", "-"], { stdio: ["pipe", "ignore", "ignore"] });
    const exit = once(launcher, "exit");
    process.kill(await cliChildOf(launcher.pid!), "SIGKILL");
    const [code, signal] = await exit;
    expect({ code, signal }).toEqual({ code: null, signal: "SIGKILL" });
  });

  it("forwards a SIGTERM to its child and reports how the child ended", async () => {
    const launcher = spawn(process.execPath, [join(root, "scripts/lspo.mjs"), "verify", "-"], { stdio: ["pipe", "ignore", "ignore"] });
    const exit = once(launcher, "exit");
    await cliChildOf(launcher.pid!);
    launcher.kill("SIGTERM");
    const [code, signal] = await exit;
    // `verify` has no SIGTERM handler, so its child dies by the signal, and so does the launcher.
    expect({ code, signal }).toEqual({ code: null, signal: "SIGTERM" });
  });
});
