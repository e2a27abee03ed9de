// Teardown is part of the harness's contract: after destroy(), Ctrl-C on the driver, or a crashed driver
// followed by the next run's sweep, no namespace, link, hosts file, directory or process of the cluster is
// left on the machine.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { expect, it } from "vitest";
import { Cluster, sweepStale } from "./support/cluster.js";
import { linkNames, netnsList, netnsPids, pidAlive } from "./support/ip.js";
import { nodeTs, root } from "./support/nats-cluster.js";
import { describeCluster } from "./support/skip.js";

interface Made {
  id: string;
  namespaces: string[];
  pids: number[];
  tmpDir: string;
}

function expectGone(made: Made): void {
  const left = netnsList();
  for (const ns of made.namespaces) {
    expect(left, "namespace").not.toContain(ns);
    expect(existsSync(`/etc/netns/${ns}`), `/etc/netns/${ns}`).toBe(false);
  }
  for (const pid of made.pids) expect(pidAlive(pid), `pid ${pid}`).toBe(false);
  expect(existsSync(made.tmpDir), "host directories").toBe(false);
  // Links lived only inside the cluster's namespaces; the machine's own namespace never had one.
  expect(linkNames().filter((l) => l.startsWith("p") && /^p\d+$/.test(l))).toEqual([]);
}

/** Starts the fixture driver and resolves with what it made once it is up. */
async function startDriver(): Promise<{ child: ReturnType<typeof spawn>; made: Made }> {
  const [cmd, args] = nodeTs(join(root, "test/cluster/support/driver-fixture.ts"), []);
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`driver exited (${code}) before reporting`)));
  });
  return { child, made: JSON.parse(line) as Made };
}

describeCluster("cluster teardown", () => {
  it("cluster teardown - destroy() kills every process, even one outside its group, and removes namespaces, links, hosts files and dirs", async () => {
    const c = Cluster.create({ hosts: ["one", "two"] });
    const a = c.exec("one", "sleep", ["1000"]);
    c.exec("two", "sh", ["-c", "setsid sleep 1000 & sleep 1000"], { name: "daemon" });
    await new Promise((r) => setTimeout(r, 300));
    const escaped = netnsPids(c.host("two").ns);
    expect(escaped.length, "sh, its sleep and the setsid sleep").toBeGreaterThanOrEqual(3);
    expect(linkNames(c.switchNs)).toEqual(expect.arrayContaining(["br0", "p0", "p1"]));
    const made: Made = { id: c.id, namespaces: c.namespaces, pids: [a.pid, ...escaped], tmpDir: c.tmpDir };
    c.destroy();
    expectGone(made);
  });

  it("cluster teardown - Ctrl-C (SIGINT) on the driver tears the cluster down", async () => {
    const { child, made } = await startDriver();
    expect(netnsList()).toEqual(expect.arrayContaining(made.namespaces));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expectGone(made);
  }, 60_000);

  it("cluster teardown - a driver killed outright leaves a cluster the next run sweeps", async () => {
    const { child, made } = await startDriver();
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
    expect(netnsList(), "left behind by the crash").toEqual(expect.arrayContaining(made.namespaces));
    const swept = sweepStale();
    expect(swept).toEqual(expect.arrayContaining(made.namespaces));
    expectGone(made);
  }, 60_000);
});
