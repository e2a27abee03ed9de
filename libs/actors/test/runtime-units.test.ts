// The runtime's pure parts: the advertised host, node labels and selectors, the reconciler's decisions,
// registry keys and the identity tables.
import { describe, expect, it } from "vitest";
import {
  advertisedHost, backoffMs, deadNodes, matchesSelector, parseLabels, planPlacement, planReconcile, type DesiredActor, type InterfaceTable, type Observation,
  IDENTITIES, actorKey, agentMayRun, groupOfMethod, identitiesFor, kindOfService, nodeKey, parseKey,
} from "@lspo/actors";
import { ComponentState, LearnerServiceService, NodeAgentServiceService, type NodeRecord } from "@lspo/proto";

const iface = (address: string, family: "IPv4" | "IPv6", internal = false) => ({
  address, family, internal, netmask: "", mac: "00:00:00:00:00:00", cidr: null, ...(family === "IPv6" ? { scopeid: 0 } : {}),
}) as NonNullable<InterfaceTable[string]>[number];

describe("runtime - advertised host", () => {
  const table: InterfaceTable = { lo: [iface("127.0.0.1", "IPv4", true), iface("::1", "IPv6", true)], eth0: [iface("fe80::1", "IPv6"), iface("10.1.2.3", "IPv4")] };
  it("advertises the first non-loopback IPv4 when bound to every interface", () => {
    expect(advertisedHost({ bindHost: "0.0.0.0", interfaces: table })).toBe("10.1.2.3");
  });
  it("prefers an explicit host, and a concrete bind host, over the interface table", () => {
    expect(advertisedHost({ bindHost: "0.0.0.0", explicit: "node-7.internal", interfaces: table })).toBe("node-7.internal");
    expect(advertisedHost({ bindHost: "192.168.0.9", interfaces: table })).toBe("192.168.0.9");
    expect(advertisedHost({ bindHost: "::1", interfaces: table })).toBe("[::1]");
  });
  it("falls back to a global IPv6 (bracketed, never link-local), then to loopback", () => {
    const v6only: InterfaceTable = { lo: [iface("127.0.0.1", "IPv4", true)], eth0: [iface("fe80::1", "IPv6"), iface("2001:db8::5", "IPv6")] };
    expect(advertisedHost({ bindHost: "0.0.0.0", interfaces: v6only })).toBe("[2001:db8::5]");
    const linkLocalOnly: InterfaceTable = { lo: [iface("127.0.0.1", "IPv4", true)], eth0: [iface("fe80::1", "IPv6")] };
    expect(advertisedHost({ bindHost: "0.0.0.0", interfaces: linkLocalOnly })).toBe("127.0.0.1");
    expect(advertisedHost({ bindHost: "0.0.0.0", interfaces: {} })).toBe("127.0.0.1");
  });
  it("refuses an explicit wildcard: nobody can dial it", () => {
    expect(() => advertisedHost({ bindHost: "0.0.0.0", explicit: "0.0.0.0", interfaces: table })).toThrow(/not dialable/);
  });
});

describe("runtime - labels and selectors", () => {
  it("parses LSPO_NODE_LABELS and names a bad item", () => {
    expect(parseLabels("role=rollout, zone=a")).toEqual({ role: "rollout", zone: "a" });
    expect(parseLabels("")).toEqual({});
    expect(() => parseLabels("role")).toThrow(/LSPO_NODE_LABELS: 'role' is not key=value/);
    expect(() => parseLabels("a=1,a=2")).toThrow(/'a' is given twice/);
  });
  it("a selector matches only when every label matches", () => {
    expect(matchesSelector({ role: "rollout", zone: "a" }, { role: "rollout" })).toBe(true);
    expect(matchesSelector({ role: "rollout" }, { role: "rollout", zone: "a" })).toBe(false);
    expect(matchesSelector(undefined, {})).toBe(true);
  });
  const node = (name: string, labels: Record<string, string>): NodeRecord => ({
    node: name, agentAddress: "x", capacity: { cpus: 4, gpus: 0, gpuIds: [], memoryBytes: 0n }, allocated: { cpus: 0, gpus: 0, gpuIds: [], memoryBytes: 0n }, actorsPerGpu: 1, runId: "r", labels,
  });
  it("places only on nodes the selector matches, and says which labels exist when none does", () => {
    const nodes = [node("a", { role: "learner" }), node("b", { role: "rollout" })];
    expect(Object.fromEntries(planPlacement(nodes, { kind: "rollout", count: 2, cpus: 1, nodeSelector: { role: "rollout" } }))).toEqual({ b: 2 });
    expect(() => planPlacement(nodes, { kind: "rollout", count: 1, nodeSelector: { role: "gpu" } })).toThrow(
      "cannot place 1 x rollout: no live node agent has labels role=gpu; nodes: a {role=learner}; b {role=rollout}",
    );
    expect(() => planPlacement(nodes, { kind: "rollout", count: 2, names: ["x"] })).toThrow(/count 2 differs from the 1 names given/);
    // A reconciler's dead node may still look live for a moment: it is never chosen.
    expect(() => planPlacement(nodes, { kind: "rollout", count: 1, nodeSelector: { role: "rollout" }, avoidNodes: ["b"] })).toThrow(/no live node agent has labels role=rollout \(avoiding b\)/);
  });
});

describe("runtime - reconcile decisions", () => {
  const want = (name: string): DesiredActor => ({ name, kind: "rollout" });
  const actor = (name: string, node: string, state = ComponentState.COMPONENT_STATE_RUNNING) => ({ name, kind: "rollout", node, state, restarts: 0 });
  const obs = (o: Partial<Observation>): Observation => ({ now: 100_000, healthySince: 0, nodes: [], actors: [], ...o });
  const opts = { nodeDeadAfterMs: 15_000 };

  it("keeps actors on a node heard from recently; a 10 s silence (a brief partition) is not death", () => {
    const o = obs({ nodes: [{ node: "a", arrivedAt: 90_000 }], actors: [actor("rollout-0", "a")] });
    expect(planReconcile(o, [want("rollout-0")], opts)).toEqual([]);
  });
  it("re-places the actors of a node silent past nodeDeadAfterMs, by name", () => {
    const o = obs({ nodes: [{ node: "a", arrivedAt: 80_000 }, { node: "b", arrivedAt: 99_000 }], actors: [actor("rollout-0", "a"), actor("rollout-1", "b")] });
    expect(planReconcile(o, [want("rollout-0"), want("rollout-1")], opts)).toEqual([{ type: "replace", actor: want("rollout-0"), from: "a", silentMs: 20_000 }]);
  });
  it("does not count the reader's own outage as the node's silence", () => {
    const o = obs({ healthySince: 95_000, nodes: [{ node: "a", arrivedAt: 10_000 }] });
    expect([...deadNodes(o, opts)]).toEqual([]);
  });
  it("re-places actors whose record or node record is gone, skips those in flight, and reports FAILED ones", () => {
    const o = obs({ nodes: [{ node: "b", arrivedAt: 99_000 }], actors: [actor("x", "gone"), actor("f", "b", ComponentState.COMPONENT_STATE_FAILED)] });
    expect(planReconcile(o, [want("x"), want("missing"), want("f"), want("busy")], opts, new Set(["busy"]))).toEqual([
      { type: "replace", actor: want("x"), from: "gone", silentMs: Infinity },
      { type: "replace", actor: want("missing"), from: null, silentMs: 0 },
      { type: "failed", name: "f", node: "b", restarts: 0 },
    ]);
  });
  it("backs off exponentially up to a cap", () => {
    expect([1, 2, 3, 10].map((a) => backoffMs(a, 500, 3000))).toEqual([500, 1000, 2000, 3000]);
  });
});

describe("runtime - registry keys and identities", () => {
  it("a key names its run, type, owner (kind or identity) and id; other shapes are skipped", () => {
    expect(actorKey("r1", "learner", "learner-0")).toBe("r1.actor.learner.learner-0");
    expect(nodeKey("r1", "rollout", "ip-10-0-0-1.ec2.internal")).toBe("r1.node.rollout.ip-10-0-0-1.ec2.internal");
    expect(parseKey("r1", "r1.actor.learner.learner-0")).toEqual({ type: "actor", owner: "learner", id: "learner-0" });
    expect(parseKey("r1", "r1.node.rollout.ip-10-0-0-1.ec2.internal")).toEqual({ type: "node", owner: "rollout", id: "ip-10-0-0-1.ec2.internal" });
    for (const k of ["r2.actor.learner.l", "r1.actor.learner", "r1.actor.learner.", "r1.actor..x", "r1.other.x.y", "r1.closed"]) expect(parseKey("r1", k), k).toBeNull();
  });

  it("method groups: control and drive for the controller and the operator, placement for the controller, reads for all", () => {
    expect(groupOfMethod("/lspo.v1.LearnerService/SwapAlgorithm")).toBe("control");
    expect(identitiesFor("/lspo.v1.LearnerService/SwapAlgorithm")).toEqual(["controller", "operator"]);
    expect(identitiesFor("/lspo.v1.NodeAgentService/StartActors")).toEqual(["controller"]);
    // Fence decides which controller an agent obeys: a rollout identity that could raise it would shut the run out.
    expect(identitiesFor("/lspo.v1.NodeAgentService/Fence")).toEqual(["controller"]);
    expect(groupOfMethod("/lspo.v1.LearnerService/Status")).toBe("read");
    expect(identitiesFor("/lspo.v1.LearnerService/Status")).toEqual(IDENTITIES);
    expect(kindOfService(LearnerServiceService)).toBe("learner");
    expect(kindOfService(NodeAgentServiceService)).toBeUndefined();
    expect(agentMayRun("learner", "learner") && agentMayRun("controller", "learner")).toBe(true);
    expect(agentMayRun("rollout", "learner")).toBe(false);
  });
});
