// Placement: the controller asks node agents for actors by resource requirement. `pack` fills the fullest
// node that still fits (fewer nodes busy); `spread` deals actors round-robin over nodes (fault isolation).
// A request that no set of agents can satisfy fails before anything starts, saying what was asked and
// what is free. A `nodeSelector` keeps actors on agents whose labels all match (role=rollout, zone=a).
import * as grpc from "@grpc/grpc-js";
import { NodeAgentServiceService, type ActorRecord, type NodeRecord } from "@lspo/proto";
import { connectClient, type ClientOptions, type TypedClient } from "./grpc-client.js";
import { PlacementError } from "./errors.js";
import { HEARTBEAT_MS, STALE_AFTER_MS, type ActorRegistry } from "./registry.js";
import { agentMayRun } from "./identity.js";

export interface PlacementRequest {
  kind: string;
  namePrefix?: string;
  /** Actors to start; with `names`, may be omitted (then names.length). */
  count: number;
  /** Explicit names (a reconciler re-placing named actors); count must then equal names.length. */
  names?: string[];
  /** Labels a node must all carry to be chosen. */
  nodeSelector?: Record<string, string>;
  /** Nodes never to choose (a reconciler's dead nodes, which may still look live for a moment). */
  avoidNodes?: string[];
  cpus?: number;
  gpus?: 0 | 1;
  strategy?: "pack" | "spread";
  configJson?: string;
  maxRestarts?: number;
}

interface Free {
  node: NodeRecord;
  cpus: number;
  gpuSlots: number;
}

function fits(f: Free, cpus: number, gpus: number): boolean {
  return f.cpus + 1e-9 >= cpus && f.gpuSlots >= gpus;
}

/** Whether a node's labels satisfy every key of the selector (an empty selector matches every node). */
export function matchesSelector(labels: Record<string, string> | undefined, selector: Record<string, string> | undefined): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);
}

function selectorText(selector: Record<string, string> | undefined): string {
  return Object.entries(selector ?? {}).map(([k, v]) => `${k}=${v}`).join(",");
}

/** Pure: how many actors go to each node, or a PlacementError. */
export function planPlacement(allNodes: NodeRecord[], req: PlacementRequest): Map<string, number> {
  const cpus = req.cpus ?? 0;
  const gpus = req.gpus ?? 0;
  if (req.names && req.names.length !== req.count) {
    throw new PlacementError(`placement of ${req.kind}: count ${req.count} differs from the ${req.names.length} names given (${req.names.join(", ")})`);
  }
  const avoid = new Set(req.avoidNodes ?? []);
  const nodes = allNodes.filter((n) => !avoid.has(n.node) && matchesSelector(n.labels, req.nodeSelector));
  if (allNodes.length > 0 && nodes.length === 0) {
    throw new PlacementError(
      `cannot place ${req.count} x ${req.kind}: no live node agent has labels ${selectorText(req.nodeSelector)}${avoid.size ? ` (avoiding ${[...avoid].join(", ")})` : ""}; nodes: ${allNodes.map((n) => `${n.node} {${selectorText(n.labels)}}`).join("; ")}`,
    );
  }
  const free: Free[] = nodes.map((n) => ({
    node: n,
    cpus: (n.capacity?.cpus ?? 0) - (n.allocated?.cpus ?? 0),
    gpuSlots: (n.capacity?.gpus ?? 0) - (n.allocated?.gpus ?? 0),
  }));
  const before = free.map((f) => `${f.node.node}: ${f.cpus} cpus, ${f.gpuSlots} GPU slots`).join("; ");
  const plan = new Map<string, number>();
  for (let i = 0; i < req.count; i++) {
    const candidates = free.filter((f) => fits(f, cpus, gpus));
    if (candidates.length === 0) {
      const summary = nodes.length ? before : "no live node agents";
      throw new PlacementError(
        `cannot place ${req.count} x ${req.kind} {cpus: ${cpus}, gpus: ${gpus}} (${req.strategy ?? "pack"}); free: ${summary}`,
      );
    }
    // pack: least free first (fill a node before opening another); spread: most free first.
    const key = (f: Free) => (gpus > 0 ? f.gpuSlots : f.cpus);
    candidates.sort((a, b) => (req.strategy === "spread" ? key(b) - key(a) : key(a) - key(b)) || a.node.node.localeCompare(b.node.node));
    const chosen = candidates[0];
    chosen.cpus -= cpus;
    chosen.gpuSlots -= gpus;
    plan.set(chosen.node.node, (plan.get(chosen.node.node) ?? 0) + 1);
  }
  return plan;
}

/**
 * One call to the node agent at `address`: with identities on, the channel must find the identity `owner` (its
 * registry key's) in the agent's certificate. The client is closed after the call, whatever its outcome.
 */
async function withAgent<T>(address: string, owner: string | undefined, opts: ClientOptions, call: (agent: TypedClient<typeof NodeAgentServiceService>) => Promise<T>): Promise<T> {
  const agent = connectClient(NodeAgentServiceService, address, { ...opts, expectIdentity: opts.identity ? owner : undefined });
  try {
    return await call(agent);
  } finally {
    agent.close();
  }
}

/** An agent that did not answer (its host down or cut off), as opposed to one that answered with a refusal. */
function unanswered(err: unknown): boolean {
  const code = (err as grpc.ServiceError).code;
  return code === grpc.status.UNAVAILABLE || code === grpc.status.DEADLINE_EXCEEDED;
}

/** Plans over the live agents in the registry, then asks each agent to start its share. */
export async function placeActors(registry: ActorRegistry, req: PlacementRequest, opts: ClientOptions = {}): Promise<ActorRecord[]> {
  // With identities on, only agents whose identity may run this kind are candidates (identity.ts
  // agentMayRun), and each is called expecting the identity its registry key names.
  const live = (await registry.liveNodes()).filter((e) => !opts.identity || agentMayRun(e.owner, req.kind));
  const owners = new Map(live.map((e) => [e.record.node, e.owner]));
  const nodes = live.map((e) => e.record);
  const plan = planPlacement(nodes, req);
  const names = [...(req.names ?? [])];
  const out: ActorRecord[] = [];
  for (const [node, count] of plan) {
    const record = nodes.find((n) => n.node === node)!;
    const res = await withAgent(record.agentAddress, owners.get(node), opts, (agent) =>
      agent.call.startActors({
        kind: req.kind,
        namePrefix: req.namePrefix ?? req.kind,
        count,
        names: names.splice(0, req.names ? count : 0),
        perActor: { cpus: req.cpus ?? 0, gpus: req.gpus ?? 0, gpuIds: [], memoryBytes: 0n },
        configJson: req.configJson ?? "{}",
        maxRestarts: req.maxRestarts ?? 3,
        fencingToken: opts.fencingToken,
      }),
    );
    out.push(...res.actors);
  }
  return out;
}

/**
 * Stops the run's actors that `which` selects, each through the agent on its node (wherever that is). A node
 * whose agent no longer heartbeats is skipped: its record outlives it for up to the bucket's max age, and
 * calling its address (a host that died) only fails. A live agent that cannot be reached is reported in
 * `unreachable`, not thrown: stopping is the run's wind-down, and one lost host must not fail a run that
 * finished (its actors exit with their agent, which exits when it loses NATS). An agent that runs no actor
 * of that name (it restarted since the record was written) answers NOT_FOUND: gone already, skipped.
 *
 * An actor of a silent agent that still renews its own record is not gone: its agent is frozen or cut off
 * from NATS while the actor is not (an agent that died takes its actors with it within seconds). Nothing
 * can stop it from here, so once it has outlived a stale window of its own it is reported in `unreachable`.
 */
export async function stopActors(
  registry: ActorRegistry, which: (a: ActorRecord) => boolean, opts: ClientOptions = {},
): Promise<{ stopped: ActorRecord[]; unreachable: Array<{ actor: string; kind: string; node: string; error: string }> }> {
  const view = await registry.view();
  const stopped: ActorRecord[] = [];
  const unreachable: Array<{ actor: string; kind: string; node: string; error: string }> = [];
  const orphans: ActorRecord[] = [];
  for (const e of view.actors().filter((x) => which(x.record))) {
    // The agent that runs it: on its node, with an identity that may run its kind.
    const node = view.nodesNamed(e.record.node).find((n) => !opts.identity || agentMayRun(n.owner, e.record.kind));
    if (!node || !view.isLive(node)) {
      if (view.isLive(e)) orphans.push(e.record);
      continue; // its agent is gone, and its processes with it (orphans: checked below)
    }
    try {
      const res = await withAgent(node.record.agentAddress, node.owner, opts, (agent) => agent.call.stopActor({ name: e.record.name, fencingToken: opts.fencingToken }));
      if (res.actor) stopped.push(res.actor);
    } catch (err) {
      if ((err as grpc.ServiceError).code === grpc.status.NOT_FOUND) continue;
      if (!unanswered(err)) throw err;
      unreachable.push({ actor: e.record.name, kind: e.record.kind, node: e.record.node, error: (err as Error).message });
    }
  }
  // An orphan whose record goes silent within the grace exited with its agent.
  const graceEnd = performance.now() + STALE_AFTER_MS + HEARTBEAT_MS;
  let left = orphans;
  while (left.length && performance.now() < graceEnd) {
    await new Promise((r) => setTimeout(r, 250));
    left = left.filter((r) => {
      const e = view.actor(r.kind, r.name);
      return e !== undefined && e.record.pid === r.pid && view.isLive(e);
    });
  }
  for (const r of left) {
    unreachable.push({ actor: r.name, kind: r.kind, node: r.node, error: `its agent on ${r.node} has not renewed its node record (frozen, or cut off from NATS), while the actor still renews its own` });
  }
  return { stopped, unreachable };
}

/**
 * Fences every live agent of the run at `opts.fencingToken` (fence.ts): a controller that has just taken the
 * run calls this before it stops or places anything, so that no call of a controller before it lands after.
 * Each agent answers once the calls it had already admitted have ended. An agent that cannot be reached is
 * reported in `unreachable`, as stopActors reports one (its actors, if any, are stopActors' to judge).
 */
export async function fenceAgents(registry: ActorRegistry, opts: ClientOptions): Promise<{ fenced: string[]; unreachable: Array<{ node: string; error: string }> }> {
  if (!opts.fencingToken) throw new Error("fenceAgents: no fencingToken in the client options");
  const fenced: string[] = [];
  const unreachable: Array<{ node: string; error: string }> = [];
  for (const e of await registry.liveNodes()) {
    try {
      await withAgent(e.record.agentAddress, e.owner, opts, (agent) => agent.call.fence({ fencingToken: opts.fencingToken }));
      fenced.push(e.record.node);
    } catch (err) {
      if (!unanswered(err)) throw err;
      unreachable.push({ node: e.record.node, error: (err as Error).message });
    }
  }
  return { fenced, unreachable };
}
