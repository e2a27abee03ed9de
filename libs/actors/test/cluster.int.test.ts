// The runtime across hosts, against a real nats-server: run isolation, names claimed run-wide, a registry
// view that survives a server restart, actors that exit with their killed agent, and a dead node's actor
// re-placed on a surviving agent by the reconciler. The "hosts" are processes on this machine.
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { connectBus, startLocalBus, startNatsServer, type LocalBus } from "@lspo/bus";
import {
  ActorRegistry, NodeAgent, Reconciler, actorHandle, placeActors, serveActor, stopActors, unary, type ReconcileEvent,
} from "@lspo/actors";
import { ComponentState, RolloutServiceService } from "@lspo/proto";

const tsx = createRequire(import.meta.url).resolve("tsx");
const statusActor = fileURLToPath(new URL("./fixtures/status-actor.ts", import.meta.url));
const agentProcess = fileURLToPath(new URL("./fixtures/agent-process.ts", import.meta.url));

let bus: LocalBus;
beforeAll(async () => {
  bus = await startLocalBus();
});
afterAll(() => bus?.stop());

const binding = (name: string) => ({
  name: "lspo.v1.RolloutService",
  definition: RolloutServiceService,
  implementation: {
    generate: unary(async () => ({ groups: [] })),
    status: unary(async () => ({ status: { name, kind: "rollout", node: "n", pid: process.pid, state: ComponentState.COMPONENT_STATE_RUNNING }, policyVersion: 0n })),
  },
});

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** `lspo agent` as its own process (killable with SIGKILL), started for one run with labels. */
async function agentProcessFor(runId: string, node: string, labels: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--conditions=source", "--import", tsx, agentProcess], {
    env: { ...process.env, LSPO_NATS_URL: bus.server.url, LSPO_RUN_ID: runId, LSPO_NODE_NAME: node, LSPO_NODE_LABELS: labels },
    stdio: ["ignore", "pipe", "inherit"],
  });
  process.once("exit", () => child.kill("SIGKILL"));
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (b) => {
      out += b;
      if (out.includes("ready")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`agent process ${node} exited (${code}) before it was ready`)));
  });
  return child;
}

const quietLauncher = () => ({ command: process.execPath, args: ["--conditions=source", "--import", tsx, statusActor], env: { LSPO_NATS_URL: bus.server.url } });

describe("cluster - registry scope and names", () => {
  it("two runs on one NATS never see each other's actors", async () => {
    await using a = await serveActor(bus.nc, [binding("learner-a")], { name: "learner", kind: "learner", runId: "run-a" });
    await using b = await serveActor(bus.nc, [binding("learner-b")], { name: "learner", kind: "learner", runId: "run-b" });
    const regA = await ActorRegistry.open(bus.nc, { runId: "run-a" });
    const regB = await ActorRegistry.open(bus.nc, { runId: "run-b" });
    expect((await regA.resolve("learner")).map((r) => r.grpcAddress)).toEqual([a.server.address]);
    expect((await regB.resolve("learner")).map((r) => r.grpcAddress)).toEqual([b.server.address]);
    expect((await regA.resolve("learner"))[0].runId).toBe("run-a");
    const h = actorHandle(regA, RolloutServiceService, "learner");
    expect((await h.call.status({})).status!.name).toBe("learner-a");
    h.close();
    regA.close();
    regB.close();
  });

  it("stopping actors reports an agent it cannot reach instead of failing the wind-down", async () => {
    const registry = await ActorRegistry.open(bus.nc, { runId: "stop-lost" });
    const node = (name: string, heartbeatAt: Date) => ({ node: name, agentAddress: "127.0.0.1:1", heartbeatAt, actorsPerGpu: 1, runId: "stop-lost", labels: {} });
    const actor = (name: string, on: string) => ({
      name, kind: "rollout", node: on, pid: 1, grpcAddress: "127.0.0.1:1", state: ComponentState.COMPONENT_STATE_RUNNING, restarts: 0, runId: "stop-lost",
    });
    // A live node record whose agent refuses connections (a partitioned host), with one actor on it.
    await registry.putNode(node("partitioned", new Date()));
    await registry.putActor(actor("rollout-0", "partitioned"));
    const { stopped, unreachable } = await stopActors(registry, (a) => a.kind === "rollout");
    expect(stopped).toEqual([]);
    expect(unreachable).toMatchObject([{ actor: "rollout-0", node: "partitioned" }]);
    expect(unreachable[0].error).toMatch(/UNAVAILABLE|ECONNREFUSED/);
    registry.close();
  });

  it("caughtUp: the view holds every record the bucket held when asked, a skipped (forged) one counted as delivered", async () => {
    const reader = await ActorRegistry.open(bus.nc, { runId: "catch-up" });
    const view = await reader.view();
    // Another host's writes, on a connection of its own: the reader learns of them only through its watch.
    const nc = await connectBus({ url: bus.server.url, name: "another-host" });
    const writer = await ActorRegistry.open(nc, { runId: "catch-up" });
    try {
      const actor = (name: string) => ({
        name, kind: "rollout", node: "n", pid: 1, grpcAddress: "127.0.0.1:1", state: ComponentState.COMPONENT_STATE_RUNNING, restarts: 0, runId: "catch-up",
      });
      // Many at once, so that the watch is still delivering them when the writes have landed: the view has
      // them all once it has seen the newest revision written.
      const revisions = await Promise.all(Array.from({ length: 500 }, (_, i) => writer.putActor(actor(`rollout-${i}`))));
      expect(await view.seen(Math.max(...revisions), 10_000)).toBe(true);
      expect(view.actors()).toHaveLength(500);
      // A record whose body names another actor than its key: the view skips it, and must not wait for it.
      await writer.kv.put("catch-up.actor.rollout.forged", (await writer.kv.get("catch-up.actor.rollout.rollout-0"))!.value);
      expect(await reader.caughtUp(10_000)).toBe(true);
      expect(view.actors().map((e) => e.record.name).sort()).toEqual(Array.from({ length: 500 }, (_, i) => `rollout-${i}`).sort());
      // A closed view never catches up: it answers false, not forever.
      await writer.putActor(actor("rollout-late"));
      view.close();
      expect(await view.seen(Number.MAX_SAFE_INTEGER, 60_000)).toBe(false);
    } finally {
      writer.close();
      reader.close();
      await nc.close();
    }
  });

  it("names are claimed run-wide: two agents asked for the same kind get different names", async () => {
    await using one = await NodeAgent.start(bus.nc, { runId: "claims", node: "n1", cpus: 2, launcher: quietLauncher, stdio: "ignore", drainMs: 2000 });
    await using two = await NodeAgent.start(bus.nc, { runId: "claims", node: "n2", cpus: 2, launcher: quietLauncher, stdio: "ignore", drainMs: 2000 });
    const req = { kind: "rollout", namePrefix: "", count: 1, names: [], configJson: "{}", maxRestarts: 0 };
    const [x] = await one.startActors(req);
    const [y] = await two.startActors(req);
    expect([x.name, y.name].sort()).toEqual(["rollout-0", "rollout-1"]);
    // An explicit name already held is refused, saying so.
    await expect(two.startActors({ ...req, names: [x.name] })).rejects.toThrow(/already claimed in run 'claims'/);
    const view = await one.registry.view();
    await until("both records", () => view.actors().length === 2);
    expect(view.actors().map((e) => e.record.node).sort()).toEqual(["n1", "n2"]);
  });

  it("rejects a registry without a run id, naming it", async () => {
    await expect(ActorRegistry.open(bus.nc, { runId: "a.b" })).rejects.toThrow(/runId: 'a.b' may contain only/);
    await expect(ActorRegistry.open(bus.nc, undefined as never)).rejects.toThrow(/options are required/);
  });
});

/** Places one actor on `agent`, then does what a reconciler does while that host is cut off: the claim goes,
 *  and another node ("elsewhere") claims the name. Returns the placement and the actor's own record. */
async function handOver(agent: NodeAgent) {
  const [placed] = await agent.startActors({ kind: "rollout", namePrefix: "", count: 1, names: [], configJson: "{}", maxRestarts: -1 });
  const mine = await until("the actor's own record", async () => (await agent.registry.resolve(placed.name))[0], 120_000);
  await agent.registry.removeActor("rollout", placed.name);
  await agent.registry.claimActor({ ...mine, node: "elsewhere", pid: 1, grpcAddress: "", state: ComponentState.COMPONENT_STATE_STARTING });
  return { placed, mine };
}

describe("cluster - a name handed on", { timeout: 180_000 }, () => {
  it("an actor whose name another node took stands down, and its agent does not restart it", async () => {
    await using agent = await NodeAgent.start(bus.nc, { runId: "handover", node: "cut-off", cpus: 2, launcher: quietLauncher, stdio: "ignore", drainMs: 2000, backoffMs: 100 });
    const { placed, mine } = await handOver(agent);
    // Generous bounds: this is about what happens, and under a loaded suite a heartbeat and a drain take long.
    await until("the old copy to exit", () => !alive(mine.pid), 60_000);
    const after = await until("the agent to let it go", () => agent.list().find((a) => a.name === placed.name && a.state === ComponentState.COMPONENT_STATE_STOPPED), 60_000);
    expect(after.restarts).toBe(0);
    expect((await agent.registry.getActor("rollout", placed.name))!.record.node).toBe("elsewhere");
    // Stopping this agent releases only what it still holds: the other node's claim stays.
    const registry = agent.registry;
    await agent.stop();
    expect((await registry.getActor("rollout", placed.name))!.record.node).toBe("elsewhere");
  });
});

describe("cluster - a name handed on, the actor first to go", { timeout: 180_000 }, () => {
  it("an actor that exits before its agent sees the hand-over is neither restarted nor counted as restarted", async () => {
    // The order the stand-down test above cannot force: the actor exits (here: killed) before the agent's next
    // heartbeat finds the name elsewhere, so the agent schedules a restart (5 s away) that keepClaim cancels.
    await using agent = await NodeAgent.start(bus.nc, { runId: "handover-exit", node: "cut-off", cpus: 2, launcher: quietLauncher, stdio: "ignore", drainMs: 2000, backoffMs: 5000 });
    const { placed, mine } = await handOver(agent);
    process.kill(mine.pid, "SIGKILL");
    const after = await until("the agent to let it go", () => agent.list().find((a) => a.name === placed.name && a.state === ComponentState.COMPONENT_STATE_STOPPED), 60_000);
    expect(after.restarts).toBe(0);
    await new Promise((r) => setTimeout(r, 6000)); // past the cancelled restart's time
    expect(agent.list().find((a) => a.name === placed.name)).toMatchObject({ state: ComponentState.COMPONENT_STATE_STOPPED, restarts: 0 });
    expect((await agent.registry.getActor("rollout", placed.name))!.record.node).toBe("elsewhere");
  });
});

describe("cluster - the view across a nats-server restart", { timeout: 120_000 }, () => {
  it("re-establishes its watch: new heartbeats arrive and handles resolve again", async () => {
    const own = await startNatsServer();
    const c = await connectBus({ url: own.url, name: "view-restart" });
    try {
      await using actor = await serveActor(c, [binding("r-0")], { name: "r-0", kind: "rollout", runId: "restart" });
      const registry = await ActorRegistry.open(c, { runId: "restart" });
      const view = await registry.view();
      expect(view.actor("rollout", "r-0")?.record.grpcAddress).toBe(actor.server.address);
      await own.restart("SIGKILL");
      const after = performance.now();
      // A revision that arrived after the restart proves the watch is live again (heartbeats every 2 s).
      await until("a heartbeat after the restart", () => (view.actor("rollout", "r-0")?.arrivedAt ?? 0) > after, 30_000);
      const h = actorHandle(registry, RolloutServiceService, "rollout", { deadlineMs: 2000 });
      expect((await h.call.status({})).status!.name).toBe("r-0");
      h.close();
      registry.close();
    } finally {
      await c.close();
      await own.stop();
    }
  });
});

describe("cluster - node failure", { timeout: 240_000 }, () => {
  it("an agent killed with SIGKILL leaves no orphan: its actor exits within seconds", async () => {
    const agent = await agentProcessFor("orphans", "doomed", "role=rollout");
    const registry = await ActorRegistry.open(bus.nc, { runId: "orphans" });
    await until("the agent's node record", async () => (await registry.liveNodes()).length === 1);
    const [placed] = await placeActors(registry, { kind: "rollout", count: 1, maxRestarts: 0 });
    const rec = await until("the actor's own record", async () => (await registry.resolve(placed.name))[0], 120_000);
    expect(alive(rec.pid)).toBe(true);
    agent.kill("SIGKILL");
    const t0 = Date.now();
    await until("the orphaned actor to exit", () => !alive(rec.pid), 10_000);
    expect(Date.now() - t0).toBeLessThan(10_000);
    registry.close();
  });

  it("the reconciler re-places a dead node's actor by name on a surviving agent, and only while it may act", async () => {
    const runId = "reconcile";
    await using survivor = await NodeAgent.start(bus.nc, { runId, node: "node-a", labels: { role: "rollout", zone: "a" }, cpus: 4, launcher: quietLauncher, stdio: "ignore", drainMs: 2000 });
    const doomed = await agentProcessFor(runId, "node-b", "role=rollout,zone=b");
    const registry = survivor.registry;
    await until("both agents", async () => (await registry.liveNodes()).length === 2);
    const [placed] = await placeActors(registry, { kind: "rollout", count: 1, maxRestarts: 0, nodeSelector: { zone: "b" } });
    expect(placed.node).toBe("node-b");
    await until("the actor on node-b", async () => (await registry.resolve(placed.name))[0], 120_000);

    const events: ReconcileEvent[] = [];
    // The controller's lease (mayAct): a controller that does not know it still holds the run places nothing.
    let mayAct = true;
    const reconciler = await Reconciler.start(registry, {
      desired: [{ name: placed.name, kind: "rollout", maxRestarts: 0, nodeSelector: { role: "rollout" } }],
      nodeDeadAfterMs: 4000,
      onEvent: (e) => events.push(e),
      mayAct: () => mayAct,
    });
    try {
      await new Promise((r) => setTimeout(r, 2500));
      expect(events).toEqual([]); // a live node: nothing to do
      mayAct = false;
      doomed.kill("SIGKILL");
      await new Promise((r) => setTimeout(r, 4000 + 3000));
      expect(events).toEqual([]); // node-b is dead by now, yet nothing is placed
      expect((await registry.resolve(placed.name))[0]?.node ?? "node-b").toBe("node-b");
      mayAct = true;
      const replaced = await until("the replacement", () => events.find((e) => e.event === "replaced"), 60_000);
      expect(replaced).toMatchObject({ event: "replaced", actor: placed.name, from: "node-b", to: "node-a" });
      expect((replaced as { afterMs: number }).afterMs).toBeGreaterThanOrEqual(4000);
      const h = actorHandle(registry, RolloutServiceService, placed.name, { deadlineMs: 2000 });
      const st = await until("the actor answering from node-a", () => h.call.status({}).catch(() => null), 120_000);
      expect(st.status!.node).toBe("node-a");
      h.close();
    } finally {
      reconciler.stop();
    }
  });
});

describe("cluster - an agent stopping while NATS does not answer", { timeout: 120_000 }, () => {
  it("bounds its registry cleanup: stop returns after about 5 s, not after the KV calls' 30 s of retries", async () => {
    // A nats-server of this test's own, frozen with SIGSTOP: connections stay open, and no request is answered.
    const frozen = await startLocalBus();
    onTestFinished(() => frozen.stop());
    const launcher = () => ({ command: process.execPath, args: ["--conditions=source", "--import", tsx, statusActor], env: { LSPO_NATS_URL: frozen.server.url } });
    const agent = await NodeAgent.start(frozen.nc, { runId: "frozen-bus", node: "n1", cpus: 2, launcher, stdio: "ignore", drainMs: 2000 });
    const [placed] = await agent.startActors({ kind: "rollout", namePrefix: "", count: 1, names: [], configJson: "{}", maxRestarts: 0 });
    const rec = await until("the actor's own record", async () => (await agent.registry.resolve(placed.name))[0], 120_000);
    process.kill(frozen.server.pid, "SIGSTOP");
    try {
      const t0 = Date.now();
      await agent.stop();
      const stoppedAfterMs = Date.now() - t0;
      // The actor went (SIGTERM, then SIGKILL after drainMs); removing its name and the node record could not
      // finish, and the agent gave up on them at its bound (5 s) instead of retrying for 30 s.
      expect(alive(rec.pid)).toBe(false);
      expect(stoppedAfterMs).toBeGreaterThanOrEqual(4_900);
      expect(stoppedAfterMs).toBeLessThan(15_000);
    } finally {
      process.kill(frozen.server.pid, "SIGCONT");
    }
  });
});
