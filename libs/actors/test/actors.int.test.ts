// The actor runtime against a real nats-server and real gRPC over loopback.
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startLocalBus, type LocalBus } from "@lspo/bus";
import {
  ActorNotFoundError, ActorRegistry, NodeAgent, PlacementError, actorHandle, connectClient, placeActors, planPlacement, serveActor, unary,
} from "@lspo/actors";
import { ComponentState, LearnerServiceService, RolloutServiceService, type NodeRecord } from "@lspo/proto";

let bus: LocalBus;
const tsx = createRequire(import.meta.url).resolve("tsx");
const fixture = fileURLToPath(new URL("./fixtures/status-actor.ts", import.meta.url));
const RUN = "actors-test";

beforeAll(async () => {
  bus = await startLocalBus();
});
afterAll(() => bus?.stop());

function rolloutBinding(name: string) {
  return {
    name: "lspo.v1.RolloutService",
    definition: RolloutServiceService,
    implementation: {
      generate: unary(async () => ({ groups: [] })),
      status: unary(async () => ({ status: { name, kind: "rollout", node: "n", pid: process.pid, state: ComponentState.COMPONENT_STATE_RUNNING }, policyVersion: 7n })),
    },
  };
}

async function until<T>(fn: () => Promise<T | null | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A port p in [from, to) with p and p + 1 both free to listen on (tried, not assumed). */
async function freePortPair(from: number, to: number): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once("error", () => resolve(false));
      srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
    });
  for (let tries = 0; tries < 50; tries++) {
    const p = from + 2 * Math.floor(Math.random() * ((to - from) / 2));
    if ((await free(p)) && (await free(p + 1))) return p;
  }
  throw new Error(`no two free consecutive ports in [${from}, ${to}) after 50 tries`);
}

describe("actors - serving and handles", () => {
  it("registers actors in KV and load-balances a group's calls across replicas", async () => {
    await using a = await serveActor(bus.nc, [rolloutBinding("gen-0")], { name: "gen-0", kind: "gen", runId: RUN });
    await using b = await serveActor(bus.nc, [rolloutBinding("gen-1")], { name: "gen-1", kind: "gen", runId: RUN });
    const registry = await ActorRegistry.open(bus.nc, { runId: RUN });
    expect((await registry.resolve("gen")).map((r) => r.name).sort()).toEqual(["gen-0", "gen-1"]);
    const handle = actorHandle(registry, RolloutServiceService, "gen");
    const names = new Set<string>();
    for (let i = 0; i < 4; i++) names.add((await handle.call.status({})).status!.name);
    expect([...names].sort()).toEqual(["gen-0", "gen-1"]);
    expect((await handle.call.status({})).policyVersion).toBe(7n);
    expect(() => (handle.call as any).generat).not.toThrow(); // property access is lazy: the call itself reports
    handle.close();
    void a;
    void b;
  });

  it("answers the gRPC health protocol", async () => {
    await using a = await serveActor(bus.nc, [rolloutBinding("health-0")], { name: "health-0", kind: "h", runId: RUN });
    const client = new grpc.Client(a.server.address, grpc.credentials.createInsecure());
    const check = (service: string) => {
      // HealthCheckRequest { string service = 1 } by hand: tag 0x0a, length, bytes.
      const req = Buffer.concat([Buffer.from([0x0a, service.length]), Buffer.from(service)]);
      return new Promise<Buffer>((resolve, reject) =>
        client.makeUnaryRequest("/grpc.health.v1.Health/Check", (b: Buffer) => b, (b: Buffer) => b, service ? req : Buffer.alloc(0), (err, r) => (err ? reject(err) : resolve(r!))),
      );
    };
    const res = await check("lspo.v1.RolloutService");
    expect([...(await check(""))]).toEqual([0x08, 0x01]);
    // HealthCheckResponse { status = 1 (SERVING) } encodes as 08 01.
    expect([...res]).toEqual([0x08, 0x01]);
    client.close();
  });

  it("reports a missing actor with the registered names, and a wrong method with the right form", async () => {
    const registry = await ActorRegistry.open(bus.nc, { runId: RUN });
    await expect(actorHandle(registry, RolloutServiceService, "nobody").call.status({})).rejects.toBeInstanceOf(ActorNotFoundError);
    const client = connectClient(RolloutServiceService, "127.0.0.1:1");
    expect(() => (client.call as any).generat).toThrow(/call\.generate\(request\).*call\.status\(request\)/);
    client.close();
  });

  it("refuses protected control calls without the token", async () => {
    await using a = await serveActor(
      bus.nc,
      [{
        name: "lspo.v1.LearnerService",
        definition: LearnerServiceService,
        protectedMethods: ["swapAlgorithm"],
        implementation: {
          swapAlgorithm: unary(async () => ({ effectiveStep: 3n })),
          checkpoint: unary(async () => ({ step: 0n, path: "" })),
          status: unary(async () => ({ step: 0n, policyVersion: 0n })),
        },
      }],
      { name: "learner-auth", kind: "learner", controlToken: "s3cret", runId: RUN },
    );
    const anon = connectClient(LearnerServiceService, a.server.address);
    await expect(anon.call.swapAlgorithm({ spec: { name: "gspo" } })).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    expect((await anon.call.status({})).step).toBe(0n); // read-only calls stay open
    const authed = connectClient(LearnerServiceService, a.server.address, { token: "s3cret" });
    expect((await authed.call.swapAlgorithm({ spec: { name: "gspo" } })).effectiveStep).toBe(3n);
    anon.close();
    authed.close();
  });
});

// Five actor process starts (three, a restart, and one more after the second kill), each importing the
// runtime from source through tsx: seconds apiece on an idle machine, tens of seconds when the whole suite
// shares two cores. The bound is generous because the test is about what happens, not how fast.
describe("actors - node agent", { timeout: 240_000 }, () => {
  const launcher = () => ({ command: process.execPath, args: ["--conditions=source", "--import", tsx, fixture], env: { LSPO_NATS_URL: bus.server.url } });

  it("starts actor processes with their GPU share, restarts a SIGKILLed one, then marks it FAILED past maxRestarts", async () => {
    await using agent = await NodeAgent.start(bus.nc, { runId: RUN, node: "node-a", cpus: 4, gpuIds: [0, 1], actorsPerGpu: 2, launcher, backoffMs: 100, stdio: "ignore", drainMs: 3000 });
    const registry = agent.registry;
    const started = await placeActors(registry, { kind: "rollout", count: 3, cpus: 1, gpus: 1, maxRestarts: 1 });
    expect(started.map((a) => a.name)).toEqual(["rollout-0", "rollout-1", "rollout-2"]);
    // Two actors per GPU: slots fill GPU 0 twice, then GPU 1.
    expect(started.map((a) => a.resources!.gpuIds[0])).toEqual([0, 0, 1]);
    // Short deadlines inside the polling loops: a call resolved to an address the registry still holds for a
    // process that just died waits for its deadline, and the loop must retry, not sit out 60 s.
    const handle = actorHandle(registry, RolloutServiceService, "rollout-2", { deadlineMs: 2000 });
    const st = await until(() => handle.call.status({}).catch(() => null));
    expect(st.status!.counters).toEqual({ cuda: "1" });

    const pid = agent.pidOf("rollout-0")!;
    process.kill(pid, "SIGKILL");
    const restarted = await until(async () => {
      const a = agent.list().find((x) => x.name === "rollout-0")!;
      return a.restarts === 1 && a.state === ComponentState.COMPONENT_STATE_RUNNING && a.pid !== pid ? a : null;
    });
    expect(restarted.pid).not.toBe(pid);
    const restartedHandle = actorHandle(registry, RolloutServiceService, "rollout-0", { deadlineMs: 2000 });
    await until(() => restartedHandle.call.status({}).catch(() => null));
    restartedHandle.close();

    process.kill(agent.pidOf("rollout-0")!, "SIGKILL");
    const failed = await until(async () => agent.list().find((x) => x.name === "rollout-0" && x.state === ComponentState.COMPONENT_STATE_FAILED));
    expect(failed.restarts).toBe(1);

    // 4 slots (2 GPUs x 2 actors); the failed actor released its share, so 2 are free: 3 more must fail clearly.
    await until(async () => (await registry.listNodes()).find((n) => n.node === "node-a" && n.allocated!.gpus === 2));
    const err = await placeActors(registry, { kind: "rollout", count: 3, cpus: 1, gpus: 1 }).catch((e) => e);
    expect(err).toBeInstanceOf(PlacementError);
    await expect(placeActors(registry, { kind: "rollout", count: 3, cpus: 1, gpus: 1 })).rejects.toThrow(/cannot place 3 x rollout .*node-a: 2 cpus, 2 GPU slots/);
    handle.close();
  });
});

describe("actors - node agent exit lines", { timeout: 60_000 }, () => {
  it("an actor that exits with an error code: the agent's line names the last error of its log", async () => {
    const logDir = mkdtempSync(join(tmpdir(), "lspo-agent-logs-"));
    // A process that logs as the services do (pino JSON lines) and exits 1, as a service's loop failure does.
    const script = [
      `console.log(JSON.stringify({ level: 30, msg: "ready" }));`,
      `console.log(JSON.stringify({ level: 50, msg: "learner loop failed", err: "TimeoutError: timeout" }));`,
      `process.exit(1);`,
    ].join("\n");
    const launcher = () => ({ command: process.execPath, args: ["-e", script] });
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      if (String(chunk).startsWith("[agent exits]")) lines.push(String(chunk));
      return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    });
    try {
      await using agent = await NodeAgent.start(bus.nc, { runId: "exit-lines", node: "exits", cpus: 2, launcher, logDir, backoffMs: 100, drainMs: 2000 });
      await agent.startActors({ kind: "learner", namePrefix: "", count: 1, names: [], configJson: "{}", maxRestarts: 1 });
      await until(async () => agent.list().find((a) => a.state === ComponentState.COMPONENT_STATE_FAILED));
    } finally {
      spy.mockRestore();
    }
    expect(lines).toEqual([
      "[agent exits] learner-0 exited (code 1, signal null): restart 1 in 100 ms (its last error: learner loop failed: TimeoutError: timeout)\n",
      "[agent exits] learner-0 exited (code 1, signal null) after 1 restarts: FAILED (its last error: learner loop failed: TimeoutError: timeout)\n",
    ]);
  });
});

describe("actors - node agent ports", { timeout: 240_000 }, () => {
  const launcher = () => ({ command: process.execPath, args: ["--conditions=source", "--import", tsx, fixture], env: { LSPO_NATS_URL: bus.server.url } });

  it("gives actor k port base + k, reuses a stopped actor's port, and refuses past the range", async () => {
    // Below Linux's ephemeral range (32768-60999), where any outgoing connection of a parallel test could hold
    // one of them (a verifier that cannot bind its port exits, and the test saw it FAILED), and free right now.
    const base = await freePortPair(20_000, 32_000);
    await using agent = await NodeAgent.start(bus.nc, { runId: RUN, node: "node-ports", cpus: 8, launcher, backoffMs: 100, stdio: "ignore", drainMs: 3000, portBase: base, portCount: 2, kinds: ["verifier"] });
    const registry = agent.registry;
    const portOf = async (name: string) => {
      const rec = await until(async () => (await registry.getActor("verifier", name))?.record.grpcAddress || null);
      return Number(rec.split(":").pop());
    };
    await placeActors(registry, { kind: "verifier", count: 2, cpus: 1, nodeSelector: {} });
    expect([await portOf("verifier-0"), await portOf("verifier-1")]).toEqual([base, base + 1]);
    // Both ports of the range are taken: a third actor has no port to serve on.
    await expect(agent.startActors({ kind: "verifier", count: 1, namePrefix: "", names: [], perActor: { cpus: 1, gpus: 0, gpuIds: [], memoryBytes: 0n }, configJson: "{}", maxRestarts: 0 } as never)).rejects.toThrow(/all 2 actor ports .* are taken/);
    await agent.stopActor("verifier-0");
    const [again] = await agent.startActors({ kind: "verifier", count: 1, namePrefix: "again", names: [], perActor: { cpus: 1, gpus: 0, gpuIds: [], memoryBytes: 0n }, configJson: "{}", maxRestarts: 0 } as never);
    expect(await portOf(again.name)).toBe(base);
    // A kind this agent does not start is refused, named.
    await expect(agent.startActors({ kind: "learner", count: 1, namePrefix: "", names: [], perActor: { cpus: 1, gpus: 0, gpuIds: [], memoryBytes: 0n }, configJson: "{}", maxRestarts: 0 } as never)).rejects.toThrow(/unknown actor kind 'learner'; valid: verifier/);
  });
});

describe("actors - placement plan", () => {
  const node = (name: string, cpus: number, gpus: number, usedGpus = 0): NodeRecord => ({
    node: name, agentAddress: "x", capacity: { cpus, gpus, gpuIds: [], memoryBytes: 0n }, allocated: { cpus: 0, gpus: usedGpus, gpuIds: [], memoryBytes: 0n }, actorsPerGpu: 1, runId: RUN, labels: {},
  });
  it("packs onto the fullest node that fits and spreads across nodes on request", () => {
    const nodes = [node("a", 8, 4, 2), node("b", 8, 4)];
    expect(Object.fromEntries(planPlacement(nodes, { kind: "r", count: 3, gpus: 1, strategy: "pack" }))).toEqual({ a: 2, b: 1 });
    expect(Object.fromEntries(planPlacement(nodes, { kind: "r", count: 4, gpus: 1, strategy: "spread" }))).toEqual({ a: 1, b: 3 });
  });
  it("names what was asked and what is free when nothing fits", () => {
    expect(() => planPlacement([node("a", 2, 0)], { kind: "learner", count: 1, gpus: 1 })).toThrow(
      "cannot place 1 x learner {cpus: 0, gpus: 1} (pack); free: a: 2 cpus, 0 GPU slots",
    );
    expect(() => planPlacement([], { kind: "r", count: 1 })).toThrow(/no live node agents/);
  });
});
