// bench/scale.ts across hosts: the same levels on the namespace cluster of test/cluster (hosts as network
// namespaces on one machine, each with its own address and directory). Three nats-server hosts form a
// JetStream cluster (every stream and bucket R3); a `services` host runs the verifier, LSPO sampler and
// learner; `rolloutHosts` hosts run the simulated actors, spread evenly (actor i on host i mod N); a
// `bench` host runs the controller's side of each level (scale-driver.ts). Every host shares this
// machine's cores: what the cluster adds is the network path (routes, R3 replication, remote gRPC), not
// compute, so the comparison with the single-host levels shows what crossing hosts costs.
import { join } from "node:path";
import type { RunConfig } from "@lspo/config";
import type { HfModel } from "@lspo/model";
import { writeModelDir } from "@lspo/tasks";
import { Cluster, type Proc } from "../../test/cluster/support/cluster.js";
import { cleanupOnUncaught } from "../../test/cluster/support/cleanup.js";
import { nodeTs, startNatsCluster } from "../../test/cluster/support/nats-cluster.js";
import { NATS_HOSTS } from "../../test/cluster/support/topology.js";
import { describeLevel, type LevelResult, type LevelSpec } from "./scale-level.js";
import { cliArgs, waitUntilReady } from "./serve.js";

export interface AcrossHostsOptions {
  rolloutHosts: number;
  levels: number[];
  /** The run config of a level's run, given its name, the cluster's NATS URL and the model's directory. */
  configFor(run: string, natsUrl: string, modelDir: string): RunConfig;
  model: HfModel;
  sim: { tokensPerSecond: number; promptsPerCall: number; minTokens: number; maxTokens: number };
  warmS: number;
  windowS: number;
}

export interface AcrossHostsResult {
  rolloutHosts: number;
  hosts: Array<{ name: string; ip: string }>;
  natsServers: number;
  replicas: number;
  levels: LevelResult[];
}

const SERVICE_KINDS = ["learner", "sampler", "verifier"] as const;

export async function measureAcrossHosts(o: AcrossHostsOptions): Promise<AcrossHostsResult> {
  cleanupOnUncaught();
  const rollout = Array.from({ length: o.rolloutHosts }, (_, i) => `rollout-${i + 1}`);
  const cluster = Cluster.create({ hosts: [...NATS_HOSTS, "services", "bench", ...rollout] });
  try {
    const nats = await startNatsCluster(cluster);
    // The model lives on the services host's own disk, where the learner reads it.
    const modelDir = join(cluster.host("services").dir, "model");
    writeModelDir(modelDir, o.model);
    const sims: Proc[] = [];
    const levels: LevelResult[] = [];
    let previous: string | undefined;
    for (const n of o.levels) {
      const run = `bench-scale-h${o.rolloutHosts}-${n}`;
      const config = o.configFor(run, nats.url, modelDir);
      const services = SERVICE_KINDS.map((kind) => {
        const name = `${kind}-${run}`;
        const proc = cluster.exec("services", process.execPath, cliArgs("serve", kind), {
          name,
          env: { LSPO_ACTOR_CONFIG: JSON.stringify(config), LSPO_ACTOR_NAME: name, LSPO_THREADS: "1" },
        });
        return { kind, proc, ready: waitUntilReady(kind, proc.log, () => !proc.alive(), `${name} on host services`) };
      });
      while (sims.length < n) {
        const i = sims.length;
        const [cmd, args] = nodeTs(join(import.meta.dirname, "sim-rollout.ts"), [
          JSON.stringify({ natsUrl: nats.url, name: `sim-${i}`, ...o.sim, vocabSize: o.model.config.vocabSize, seed: i + 1, replicas: config.nats.replicas }),
        ]);
        sims.push(cluster.exec(rollout[i % rollout.length], cmd, args, { name: `sim-${i}` }));
      }
      await Promise.all(services.map((s) => s.ready));
      const pid = (kind: string) => services.find((s) => s.kind === kind)!.proc.pid;
      const spec: LevelSpec = {
        run, config, sims: sims.slice(0, n).map((s) => s.name),
        pids: { verifier: pid("verifier"), sampler: pid("sampler"), learner: pid("learner"), natsServers: NATS_HOSTS.map((h) => nats.server(h).pid), sims: sims.slice(0, n).map((s) => s.pid) },
        tokensPerSecond: o.sim.tokensPerSecond, minTokens: o.sim.minTokens, maxTokens: o.sim.maxTokens, warmS: o.warmS, windowS: o.windowS,
      };
      const [cmd, args] = nodeTs(join(import.meta.dirname, "scale-driver.ts"), [JSON.stringify({ natsUrl: nats.url, spec, purge: previous })]);
      const { code, stdout } = await cluster.run("bench", cmd, args, { name: `driver-${run}`, timeoutMs: (o.warmS + o.windowS) * 1000 + 240_000 });
      let level: LevelResult | null = null;
      try {
        level = JSON.parse(stdout.trim().split("\n").pop() ?? "");
      } catch {
        /* reported below */
      }
      if (code !== 0 || !level) throw new Error(`bench scale across ${o.rolloutHosts} rollout hosts, ${n} actors: the driver failed (exit ${code}); its log ${join(cluster.host("bench").dir, "logs", `driver-${run}.log`)}`);
      levels.push(level);
      console.log(`[${o.rolloutHosts} rollout hosts] ${describeLevel(level)}`);
      for (const s of services) cluster.killProcess(s.proc, "SIGTERM");
      await Promise.all(services.map((s) => s.proc.exited));
      previous = run;
    }
    for (const s of sims) cluster.killProcess(s, "SIGTERM");
    await Promise.all(sims.map((s) => s.exited));
    return { rolloutHosts: o.rolloutHosts, hosts: cluster.hosts.map((h) => ({ name: h.name, ip: h.ip })), natsServers: NATS_HOSTS.length, replicas: 3, levels };
  } finally {
    cluster.destroy();
  }
}
