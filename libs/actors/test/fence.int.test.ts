// The fence over gRPC (fence.ts): a controller that takes the run fences the live agents, and from then on a
// placement or a stop of the controller before it is refused, FAILED_PRECONDITION, while its own go through.
// Real nats-server, real gRPC, real actor processes.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalBus, type LocalBus } from "@lspo/bus";
import { NodeAgent, fenceAgents, placeActors, stopActors } from "@lspo/actors";

const tsx = createRequire(import.meta.url).resolve("tsx");
const fixture = fileURLToPath(new URL("./fixtures/status-actor.ts", import.meta.url));
const EPOCH = BigInt(Date.UTC(2026, 11, 7));
const take = (revision: number) => ({ fencingToken: { epochMs: EPOCH, revision: BigInt(revision) } });

let bus: LocalBus;
beforeAll(async () => {
  bus = await startLocalBus();
});
afterAll(() => bus?.stop());

describe("actors - fenced agents", { timeout: 120_000 }, () => {
  it("refuse the placements and stops of a controller older than the one that fenced them", async () => {
    const launcher = () => ({ command: process.execPath, args: ["--conditions=source", "--import", tsx, fixture], env: { LSPO_NATS_URL: bus.server.url } });
    await using agent = await NodeAgent.start(bus.nc, { runId: "fence", node: "node-f", cpus: 4, launcher, backoffMs: 100, stdio: "ignore", drainMs: 3000 });
    const registry = agent.registry;
    // The controller of take 5 places an actor.
    const [first] = await placeActors(registry, { kind: "verifier", count: 1, cpus: 1 }, take(5));
    expect(first.name).toBe("verifier-0");

    // A controller of take 7 takes the run and fences the agents.
    expect(await fenceAgents(registry, take(7))).toEqual({ fenced: ["node-f"], unreachable: [] });
    expect(agent.fence.current).toEqual(take(7).fencingToken);

    // The first controller's calls, on their way when it lost the run, land now: refused, and nothing changes.
    const late = await placeActors(registry, { kind: "verifier", count: 1, cpus: 1 }, take(5)).catch((e: grpc.ServiceError) => e);
    expect(late).toMatchObject({ code: grpc.status.FAILED_PRECONDITION });
    expect((late as Error).message).toMatch(/StartActors refused: the call carries lease take 5 .* older than the fence of the agent on node-f at lease take 7/);
    await expect(stopActors(registry, (a) => a.name === "verifier-0", take(5))).rejects.toMatchObject({ code: grpc.status.FAILED_PRECONDITION });
    await expect(stopActors(registry, (a) => a.name === "verifier-0", {})).rejects.toThrow(/StopActor refused: the call carries no fencing token/);
    expect(agent.list().map((a) => a.name)).toEqual(["verifier-0"]);

    // The new controller's own calls go through.
    const stopped = await stopActors(registry, (a) => a.name === "verifier-0", take(7));
    expect(stopped.stopped.map((a) => a.name)).toEqual(["verifier-0"]);
    const [mine] = await placeActors(registry, { kind: "verifier", count: 1, cpus: 1 }, take(7));
    expect(mine.name).toBe("verifier-0");
    await expect(fenceAgents(registry, {})).rejects.toThrow(/no fencingToken/);
  });

  it("an agent that does not answer is reported, not thrown; the others are fenced", async () => {
    const launcher = () => ({ command: process.execPath, args: ["--conditions=source", "--import", tsx, fixture], env: { LSPO_NATS_URL: bus.server.url } });
    await using agent = await NodeAgent.start(bus.nc, { runId: "fence-lost", node: "node-g", cpus: 1, launcher, stdio: "ignore", drainMs: 3000 });
    // A live node record whose agent refuses connections: a host cut off, as the stop's own test has it.
    await agent.registry.putNode({ node: "partitioned", agentAddress: "127.0.0.1:1", heartbeatAt: new Date(), actorsPerGpu: 1, runId: "fence-lost", labels: {} });
    const result = await fenceAgents(agent.registry, take(9));
    expect(result.fenced).toEqual(["node-g"]);
    expect(result.unreachable).toMatchObject([{ node: "partitioned" }]);
    expect(result.unreachable[0].error).toMatch(/UNAVAILABLE|ECONNREFUSED/);
    expect(agent.fence.current).toEqual(take(9).fencingToken);
  });
});
