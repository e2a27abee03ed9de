// Three nats-server processes on three hosts forming one JetStream cluster over routes. Each keeps its store
// in its own host's directory, so killing and restarting one is a machine coming back with its disk.
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { findNatsServerBinary } from "@lspo/bus";
import type { Cluster, Proc } from "./cluster.js";

export const root = resolve(import.meta.dirname, "../../..");
const tsx = createRequire(join(root, "package.json")).resolve("tsx");
const PROBE = join(root, "test/cluster/support/probe.ts");

/** `node` running a TypeScript file from the repository (the checkout stands in for an installed image). */
export function nodeTs(script: string, args: string[]): [string, string[]] {
  return [process.execPath, ["--conditions=source", "--import", tsx, script, ...args]];
}

/** Runs probe.ts on a host and returns its JSON answer; throws with the probe's error otherwise. */
export async function runProbe<T = Record<string, unknown>>(cluster: Cluster, host: string, args: string[], timeoutMs = 60_000): Promise<T> {
  const [cmd, argv] = nodeTs(PROBE, args);
  const { code, stdout } = await cluster.run(host, cmd, argv, { name: `probe-${args[0]}`, timeoutMs });
  const last = stdout.trim().split("\n").pop() ?? "";
  let parsed: (T & { error?: string }) | null = null;
  try {
    parsed = JSON.parse(last);
  } catch {
    /* no JSON: killed or crashed */
  }
  if (code !== 0 || !parsed || parsed.error) throw new Error(`probe ${args.join(" ")} on ${host}: ${parsed?.error ?? `exit ${code}, output '${stdout.trim()}'`}`);
  return parsed;
}

export interface NatsCluster {
  /** `nats://nats-1:4222,nats://nats-2:4222,...`: the comma list every client gets (@lspo/bus connectBus). */
  readonly url: string;
  readonly hosts: string[];
  server(host: string): Proc;
  /** SIGKILL one server (a crash: no clean shutdown, its store stays). */
  kill(host: string): Promise<void>;
  /** Starts a killed server again with its store and waits until the cluster agrees on a meta leader. */
  restart(host: string): Promise<void>;
  /** Waits until every server names the same JetStream meta leader; returns its name. */
  waitMeta(timeoutMs?: number): Promise<string>;
}

function config(name: string, dir: string, peers: string[]): string {
  return `server_name: ${name}
listen: 0.0.0.0:4222
http: 0.0.0.0:8222
max_payload: 8MB
jetstream { store_dir: "${join(dir, "jetstream")}" }
cluster {
  name: lspo-cluster
  listen: 0.0.0.0:6222
  routes: [${peers.map((p) => `nats-route://${p}:6222`).join(", ")}]
}
`;
}

export async function startNatsCluster(cluster: Cluster, hosts = ["nats-1", "nats-2", "nats-3"]): Promise<NatsCluster> {
  const bin = findNatsServerBinary();
  const servers = new Map<string, Proc>();
  const start = (h: string) => {
    const dir = cluster.host(h).dir;
    const conf = join(dir, "nats.conf");
    writeFileSync(conf, config(h, dir, hosts.filter((p) => p !== h)));
    servers.set(h, cluster.exec(h, bin, ["-c", conf], { name: "nats-server" }));
  };
  hosts.forEach(start);
  const waitMeta = async (timeoutMs = 60_000) => (await runProbe<{ leader: string }>(cluster, hosts[0], ["meta", String(timeoutMs), ...hosts], timeoutMs + 15_000)).leader;
  const nats: NatsCluster = {
    url: hosts.map((h) => `nats://${h}:4222`).join(","),
    hosts,
    server: (h) => servers.get(h)!,
    async kill(h) {
      const p = servers.get(h)!;
      cluster.killProcess(p);
      await p.exited;
    },
    async restart(h) {
      servers.set(h, cluster.restart(servers.get(h)!));
      await waitMeta();
    },
    waitMeta,
  };
  await waitMeta();
  return nats;
}
