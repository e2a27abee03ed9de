// ServiceContext.fail: a service's work that fails ends the process with exit 1 (after its report and its
// disposers), so that its agent or Kubernetes restarts it; the same failure once the stop has begun is the
// stop's doing (a publish cut off by the closing connection) and leaves the stop's exit 0. Real processes,
// real nats-server.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalBus, type LocalBus } from "@lspo/bus";

const tsx = createRequire(import.meta.url).resolve("tsx");
const fixture = fileURLToPath(new URL("./fixtures/failing-service.ts", import.meta.url));

let bus: LocalBus;
beforeAll(async () => {
  bus = await startLocalBus();
});
afterAll(() => bus?.stop());

interface Ended {
  code: number | null;
  stdout: string;
  log: Array<{ level: number; msg: string; err?: string }>;
}

/** Runs the fixture; `signal` is sent once it is ready. */
function run(when: "running" | "stopping", signal?: NodeJS.Signals): Promise<Ended> {
  const child = spawn(process.execPath, ["--conditions=source", "--import", tsx, fixture], {
    env: { ...process.env, LSPO_NATS_URL: bus.server.url, LSPO_FAIL_WHEN: when },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c.toString();
    if (signal && stdout.includes("ready")) {
      child.kill(signal);
      signal = undefined;
    }
  });
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) =>
    child.on("exit", (code) =>
      resolve({ code, stdout, log: stderr.split("\n").flatMap((l) => (l.startsWith("{") ? [JSON.parse(l) as Ended["log"][number]] : [])) }),
    ),
  );
}

describe("actors - a service's work that fails", { timeout: 60_000 }, () => {
  it("while running: logs '<what> failed', reports, runs its disposers and exits 1", async () => {
    const ended = await run("running");
    expect(ended.code, ended.stdout).toBe(1);
    expect(ended.stdout).toContain("ready stopping=false");
    expect(ended.stdout.indexOf("reported")).toBeGreaterThan(-1);
    expect(ended.stdout.indexOf("disposed")).toBeGreaterThan(ended.stdout.indexOf("reported")); // the report comes first
    const failed = ended.log.filter((l) => l.msg === "test loop failed");
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ level: 50, err: "boom" });
  });

  it("once the stop has begun: a warning that names the failure, and the stop's exit 0", async () => {
    const ended = await run("stopping", "SIGTERM");
    expect(ended.code, ended.stdout).toBe(0);
    expect(ended.stdout).toContain("stopping=true");
    expect(ended.stdout).toContain("disposed");
    expect(ended.log.filter((l) => l.msg === "test loop failed")).toEqual([]);
    const cut = ended.log.filter((l) => l.msg.startsWith("test loop cut off by the stop"));
    expect(cut).toHaveLength(1);
    expect(cut[0]).toMatchObject({ level: 40, err: "publish cut off" });
  });
});
