// An embedded nats-server started with dieWithParent exits when the process that started it is SIGKILLed
// (setpriv's parent-death signal); one started without it outlives its parent, which is why the option exists.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.startsWith("Z");

/** A node process that starts a server with `opts`, prints its pid, and waits; returns both pids. */
async function parentWithServer(opts: string): Promise<{ parent: number; server: number }> {
  const code = `import { startNatsServer } from "@lspo/bus"; const s = await startNatsServer(${opts}); console.log(s.pid); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", "--input-type=module", "-e", code], { stdio: ["ignore", "pipe", "inherit"] });
  const server = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (b: Buffer) => {
      out += b.toString();
      if (out.includes("\n")) resolve(Number(out.trim()));
    });
    child.once("exit", (code) => reject(new Error(`the parent exited (${code}) before starting its server`)));
  });
  return { parent: child.pid!, server };
}

async function gone(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (alive(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return !alive(pid);
}

describe("nats-server dieWithParent (util-linux setpriv)", { timeout: 60_000 }, () => {
  it("exits when its parent is SIGKILLed; without the option it outlives it", async () => {
    const tied = await parentWithServer("{ dieWithParent: true }");
    const loose = await parentWithServer("{}");
    try {
      expect(alive(tied.server) && alive(loose.server)).toBe(true);
      process.kill(tied.parent, "SIGKILL");
      process.kill(loose.parent, "SIGKILL");
      expect(await gone(tied.server, 10_000)).toBe(true);
      expect(await gone(loose.server, 2_000)).toBe(false);
    } finally {
      for (const pid of [tied.server, loose.server]) if (alive(pid)) process.kill(pid, "SIGKILL");
    }
  });
});
