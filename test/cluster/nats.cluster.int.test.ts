// The cluster harness with a real three-server JetStream cluster: hosts find each other by name, the
// servers elect a meta leader over routes, an R3 stream loses and repeats nothing through a server's crash,
// and a cut link isolates exactly one host until it is restored.
import { afterAll, beforeAll, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Cluster } from "./support/cluster.js";
import { runProbe, startNatsCluster, type NatsCluster } from "./support/nats-cluster.js";
import { describeCluster } from "./support/skip.js";

const NATS = ["nats-1", "nats-2", "nats-3"];

describeCluster("cluster nats", () => {
  let cluster: Cluster;
  let nats: NatsCluster;

  beforeAll(async () => {
    cluster = Cluster.create({ hosts: [...NATS, "client", "other"] });
    nats = await startNatsCluster(cluster);
  }, 120_000);
  afterAll(() => cluster?.destroy());

  it("cluster nats - hosts resolve each other by name from their own hosts file, each in its own directory", async () => {
    const hostsFile = readFileSync(`/etc/netns/${cluster.host("client").ns}/hosts`, "utf8");
    for (const h of cluster.hosts) expect(hostsFile).toContain(`${h.ip} ${h.name}`);
    expect(await runProbe(cluster, "client", ["tcp", "nats-2", "4222", "3000"])).toEqual({ ok: true });
    const dirs = new Set(cluster.hosts.map((h) => h.dir));
    expect(dirs.size).toBe(cluster.hosts.length);
    // Each server's JetStream store sits in its own host's directory.
    for (const h of NATS) expect(readFileSync(join(cluster.host(h).dir, "nats.conf"), "utf8")).toContain(join(cluster.host(h).dir, "jetstream"));
  });

  it("cluster nats - a host sees its own directory and no other host's files", async () => {
    const { code, stdout } = await cluster.run("client", "/bin/sh", ["-c", `ls -A ${cluster.tmpDir}; cat ${join(cluster.host("nats-1").dir, "nats.conf")} 2>&1 || true`]);
    expect(code).toBe(0);
    const [listing, ...rest] = stdout.trim().split("\n");
    expect(listing).toBe("client");
    expect(rest.join("\n")).toMatch(/No such file/);
  });

  it("cluster nats - three servers form one JetStream cluster with a meta leader", async () => {
    expect(NATS).toContain(await nats.waitMeta());
  });

  it("cluster nats - an R3 stream keeps every message exactly once through a server crash and restart", async () => {
    const url = nats.url;
    const created = await runProbe<{ leader: string }>(cluster, "client", ["stream", url, "R3", "r3.>", "3"]);
    expect(NATS).toContain(created.leader);
    // Kill the stream's leader: the harder case (a new leader must be elected while we publish).
    const victim = created.leader;
    await runProbe(cluster, "client", ["publish", url, "r3.x", "0", "100"]);
    await nats.kill(victim);
    await runProbe(cluster, "client", ["publish", url, "r3.x", "100", "200"], 90_000);
    await nats.restart(victim);
    await runProbe(cluster, "client", ["stream-current", url, "R3", "60000"], 75_000);
    await runProbe(cluster, "client", ["publish", url, "r3.x", "200", "300"]);
    const { ids, extra } = await runProbe<{ ids: number[]; extra: number }>(cluster, "other", ["consume", url, "R3", "reader", "300", "60000"], 75_000);
    expect(extra, "messages past the expected 300").toBe(0);
    expect(ids.length).toBe(300);
    expect(new Set(ids).size, "each id once").toBe(300);
  }, 240_000);

  it("cluster nats - a cut link isolates exactly that host, and restoring it heals the cluster", async () => {
    await cluster.cutLink("nats-3");
    try {
      expect((await runProbe(cluster, "client", ["tcp", "nats-3", "4222", "1500"])).ok, "client → cut host").toBe(false);
      expect((await runProbe(cluster, "nats-3", ["tcp", "nats-1", "4222", "1500"])).ok, "cut host → others").toBe(false);
      expect((await runProbe(cluster, "client", ["tcp", "nats-1", "4222", "1500"])).ok, "client → nats-1").toBe(true);
      expect((await runProbe(cluster, "other", ["tcp", "nats-2", "4222", "1500"])).ok, "other → nats-2").toBe(true);
    } finally {
      cluster.restoreLink("nats-3");
    }
    expect((await runProbe(cluster, "client", ["tcp", "nats-3", "4222", "3000"])).ok, "client → restored host").toBe(true);
    // Healed: all three servers agree on one meta leader again (the cut one rejoined over its routes).
    expect(NATS).toContain(await nats.waitMeta(60_000));
  }, 120_000);
});
