// Node pools, placement and GPU ids (support/nodes.ts).
import { describe, expect, it } from "vitest";
import type { Workload } from "./support/manifests.js";
import { Scheduler, daemonSetNodes, planNodes } from "./support/nodes.js";

const w = (kind: Workload["kind"], name: string, spec: Partial<Workload["spec"]> = {}, gpus = 0): Workload => ({
  kind,
  name,
  namespace: "lspo",
  resource: { apiVersion: "apps/v1", kind, metadata: { name } } as any,
  labels: {},
  spec: { containers: [{ name: "c", image: "lspo", ...(gpus ? { resources: { limits: { "nvidia.com/gpu": String(gpus) } } } : {}) }], ...spec },
});

describe("k8s-live nodes", () => {
  it("k8s-live nodes - base nodes carry the DaemonSets' labels; another selector gets one node of its own, with GPUs where requested", () => {
    const agent = w("DaemonSet", "agent", { nodeSelector: { "lspo.io/pool": "rollout" } }, 2);
    const learner = w("StatefulSet", "learner", { nodeSelector: { "lspo.io/pool": "learner" } }, 1);
    const nodes = planNodes([agent, learner, w("Deployment", "sampler")], 2, 2);
    expect(nodes.map((n) => [n.name, n.labels["lspo.io/pool"], n.gpus])).toEqual([["node-1", "rollout", 2], ["node-2", "rollout", 2], ["node-3", "learner", 2]]);
    expect(daemonSetNodes(agent, nodes).map((n) => n.name)).toEqual(["node-1", "node-2"]);
    expect(nodes[0].labels["kubernetes.io/hostname"]).toBe("node-1");
    // a pod without a nodeSelector stays on the base nodes, never on the learner's node
    const s = new Scheduler(nodes, 2);
    for (let i = 0; i < 6; i++) expect(s.place(`p${i}`, w("Deployment", "sampler").spec).node.name).not.toBe("node-3");
  });

  it("k8s-live nodes - pods spread over matching nodes; GPU ids are distinct per node; a pod that does not fit is Pending", () => {
    const agent = w("DaemonSet", "agent", {}, 2);
    const nodes = planNodes([agent], 2, 2);
    const s = new Scheduler(nodes);
    const a = s.place("a", agent.spec, "node-1");
    expect(a.gpuIds.get("c")).toEqual([0, 1]);
    const b = s.place("b", w("Deployment", "x").spec);
    expect(b.node.name).toBe("node-2"); // fewer pods there
    expect(() => s.place("c", w("Deployment", "y", {}, 1).spec, "node-1")).toThrow(/pod c is Pending: it requests 1 nvidia.com\/gpu and no node has that many free \(node-1: 0 of 2 free\)/);
    expect(() => s.place("d", w("Deployment", "z", { nodeSelector: { pool: "none" } }).spec)).toThrow(/Pending: no node matches nodeSelector/);
    const one = s.place("e", w("Deployment", "g", {}, 1).spec);
    expect(one.node.name).toBe("node-2");
    expect(one.gpuIds.get("c")).toEqual([0]);
  });
});
