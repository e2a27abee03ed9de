// `lspo status` over a real nats-server and real gRPC: the run's controller (the holder of its lease, and
// whether it renews it), each actor's own Status counters beside its registry record, an actor that does not
// answer shown with the reason (the command still lists every actor and exits 0), each actor's agent (live,
// silent while the actor runs on, or none), and --no-counters listing the registry only.
import { execFile } from "node:child_process";
import { createServer } from "node:net";
import { hostname } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActorRegistry, serveActor, unary, type ServedActor } from "@lspo/actors";
import { KV_BUCKETS, encodeEnvelope, jetstreamManager, openKv, startLocalBus, type LocalBus } from "@lspo/bus";
import { ComponentState, RolloutServiceService } from "@lspo/proto";
import { ControllerLease } from "../src/run/lease.js";

const root = join(import.meta.dirname, "../../..");
const runId = "status-counters";
let bus: LocalBus;
let rollout: ServedActor;
let registry: ActorRegistry;
let deadAddress: string;
let lease: ControllerLease;

/** A port that was free a moment ago and has nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

async function lspoStatus(...flags: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [join(root, "scripts/lspo.mjs"), "status", "--nats", bus.server.url, "--run", runId, ...flags], {
    encoding: "utf8",
    // The deployment's gRPC settings come from the environment; none here (plaintext).
    env: { ...process.env, LSPO_GRPC_TLS_CERT: "", LSPO_GRPC_TLS_KEY: "", LSPO_GRPC_TLS_CA: "", LSPO_GRPC_TOKEN: "" },
  });
  return stdout;
}

beforeAll(async () => {
  bus = await startLocalBus();
  rollout = await serveActor(bus.nc, [{
    name: "lspo.v1.RolloutService",
    definition: RolloutServiceService,
    implementation: {
      status: unary(async () => ({
        status: { name: "rollout-0", kind: "rollout", node: "here", pid: process.pid, state: ComponentState.COMPONENT_STATE_RUNNING, counters: { groups: 7, weightsRefused: 1, generateSeconds: 1.23456 } },
        policyVersion: 3n,
      })),
    },
  }], { name: "rollout-0", kind: "rollout", runId, host: "127.0.0.1", advertiseHost: "127.0.0.1", node: "here" });
  // A verifier whose record names an address nothing listens on (a process that died before its record expired),
  // under the rollout actor's name: names are unique within a kind only, and each answer must go to its own record.
  deadAddress = `127.0.0.1:${await closedPort()}`;
  registry = await ActorRegistry.open(bus.nc, { runId });
  await registry.putActor({ name: "rollout-0", kind: "verifier", node: "gone", pid: 1, grpcAddress: deadAddress, state: ComponentState.COMPONENT_STATE_RUNNING, restarts: 0, runId, resources: undefined, heartbeatAt: undefined });
  // The rollout actor's agent: one record, never renewed (a frozen agent whose actor runs on).
  await registry.putNode({ node: "here", agentAddress: deadAddress, labels: {}, actorsPerGpu: 1, runId, capacity: undefined, allocated: undefined, heartbeatAt: undefined });
  // The run's controller, as `lspo train` holds it: renewed every 2 s.
  lease = await ControllerLease.acquire(await openKv(bus.nc, KV_BUCKETS.sampler), runId);
}, 60_000);

afterAll(async () => {
  await lease?.release();
  registry?.close();
  await rollout?.stop();
  await bus?.stop();
});

describe("lspo status", { timeout: 60_000 }, () => {
  it("shows the run's controller, each actor's Status counters, and why an actor's are missing", async () => {
    // This process serves the actor and renews the lease; a watch of twice the default lets a loaded test
    // machine's late heartbeat still land in it (a stopped one never would).
    const watch = ["--watch-s", "6"];
    const json = JSON.parse(await lspoStatus("--json", ...watch)) as { controller: Record<string, unknown> | null; actors: Array<Record<string, unknown>> };
    expect(json.controller).toEqual({ pid: process.pid, host: hostname(), startedAt: lease.holder.startedAt, renewing: true });
    const byKey = Object.fromEntries(json.actors.map((a) => [`${a.kind}/${a.name}`, a]));
    expect(Object.keys(byKey).sort()).toEqual(["rollout/rollout-0", "verifier/rollout-0"]);
    expect(byKey["rollout/rollout-0"]).toMatchObject({ state: "running", agent: "silent", counters: { policyVersion: 3, groups: 7, weightsRefused: 1, generateSeconds: 1.23456 } });
    expect(byKey["verifier/rollout-0"].agent).toBeNull(); // no agent registered node "gone"
    expect(byKey["rollout/rollout-0"]).not.toHaveProperty("unreachable");
    expect(byKey["verifier/rollout-0"]).not.toHaveProperty("counters");
    expect(byKey["verifier/rollout-0"].unreachable).toContain(`Status at ${deadAddress}: 14 UNAVAILABLE`);

    const text = (await lspoStatus(...watch)).split("\n");
    expect(text.find((l) => l.startsWith("rollout-0  rollout"))).toMatch(/^rollout-0\s+rollout\s+here\s+silent\s+\d+\s+running\s+0\s*$/);
    expect(text.find((l) => l.startsWith("rollout-0  verifier"))).toMatch(/^rollout-0\s+verifier\s+gone\s+-\s+1\s+unresponsive\s+0\s*$/);
    expect(text[0]).toBe(`controller: pid ${process.pid} on ${hostname()}, started ${lease.holder.startedAt}: renewing the run's lease`);
    const section = text.indexOf("COUNTERS (each actor's Status)");
    expect(section, text.join("\n")).toBeGreaterThan(0);
    expect(text.slice(section + 1, section + 3).sort()).toEqual([
      "rollout-0  rollout   policyVersion=3 groups=7 weightsRefused=1 generateSeconds=1.235",
      expect.stringMatching(new RegExp(`^rollout-0  verifier  unreachable: Status at ${deadAddress}: 14 UNAVAILABLE`)),
    ]);
  });

  it("--no-counters lists the registry without calling any actor", async () => {
    const json = JSON.parse(await lspoStatus("--json", "--no-counters")) as { actors: Array<Record<string, unknown>> };
    expect(json.actors.map((a) => `${a.kind}/${a.name}`).sort()).toEqual(["rollout/rollout-0", "verifier/rollout-0"]);
    for (const a of json.actors) {
      expect(a).not.toHaveProperty("counters");
      expect(a).not.toHaveProperty("unreachable");
    }
    expect(await lspoStatus("--no-counters")).not.toContain("COUNTERS");
  });

  it("says when the controller stops renewing its lease, and when none holds the run", async () => {
    const kv = await openKv(bus.nc, KV_BUCKETS.sampler);
    // A killed controller: its last record stays, never renewed.
    await kv.put("silent-run.controller", encodeEnvelope("ControllerLease", { pid: 7, host: "gone", startedAt: "then", incarnation: "x" }));
    const silent = await lspoStatus("--no-counters", "--run", "silent-run");
    expect(silent.split("\n")[0]).toBe("controller: pid 7 on gone, started then: its lease was not renewed in the last 3 s (stopped, or cut off from NATS)");
    const none = JSON.parse(await lspoStatus("--json", "--no-counters", "--run", "no-such-run"));
    expect(none.controller).toBeNull();

    // On a NATS no run has used, nothing to read, and the control bucket is not made by a reader (it would get
    // other settings, such as replicas, than the controller's provisioning gives it).
    const fresh = await startLocalBus();
    try {
      const { stdout } = await promisify(execFile)(process.execPath, [join(root, "scripts/lspo.mjs"), "status", "--nats", fresh.server.url, "--json", "--no-counters"], { encoding: "utf8" });
      expect(JSON.parse(stdout)).toEqual({ controller: null, actors: [] });
      const jsm = await jetstreamManager(fresh.nc);
      await expect(jsm.streams.info(`KV_${KV_BUCKETS.sampler}`)).rejects.toThrow(/stream not found/);
    } finally {
      await fresh.stop();
    }
  });

  it("refuses a watch shorter than a heartbeat, or one that is not a number, naming the flag", async () => {
    for (const bad of ["1", "soon"]) {
      const failed = await lspoStatus("--watch-s", bad).then(() => null, (err: { code: number; stderr: string }) => err);
      expect(failed?.code).toBe(2);
      expect(failed?.stderr).toContain(`lspo status: --watch-s must be a number of seconds of at least 2 (one heartbeat), got '${bad}'`);
    }
  });

  it("says an agent is live while it renews its node record", async () => {
    const record = { node: "here", agentAddress: deadAddress, labels: {}, actorsPerGpu: 1, runId, capacity: undefined, allocated: undefined, heartbeatAt: undefined };
    const beat = setInterval(() => void registry.putNode(record).catch(() => undefined), 500);
    try {
      const json = JSON.parse(await lspoStatus("--json", "--no-counters")) as { actors: Array<Record<string, unknown>> };
      expect(json.actors.find((a) => a.kind === "rollout")?.agent).toBe("live");
    } finally {
      clearInterval(beat);
    }
  });
});
