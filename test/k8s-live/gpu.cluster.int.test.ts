// The gpu overlay on 2 rollout nodes x 2 GPUs (plus the learner's own node), on the CPU (LSPO_DEVICE=cpu)
// since this machine has no GPU: with actorsPerGpu 2 the node agents start 8 rollout actors, each given a
// GPU id of its node by the device plugin's NVIDIA_VISIBLE_DEVICES, two per GPU. PVC lspo-models holds
// the demo model as base/.
import { expect, it } from "vitest";
import { cpSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, runCheck } from "./support/run-check.js";
import { describeLive } from "./support/skip.js";

// The DaemonSet asks for a whole 8-GPU node; here a node has 2. Said in the report under "customized".
const agentGpus = `- target: { kind: DaemonSet, name: lspo-agent }
  patch: |
    - op: replace
      path: /spec/template/spec/containers/0/resources/limits/nvidia.com~1gpu
      value: "2"
`;

describeLive("k8s-live gpu", () => {
  it("k8s-live gpu - 8 rollout actors on 2 nodes x 2 GPUs, each with a GPU id", { timeout: 1_200_000 }, async () => {
    const r = await runCheck(
      ["--overlay", "gpu", "--nodes", "2", "--gpus-per-node", "2", "--env", "LSPO_DEVICE=cpu", "--patch", "{dir}/agent-gpus.yaml", "--set", "run.steps=2", "--pvc", "lspo-models={dir}/models", "--timeout", "1080"],
      { "agent-gpus.yaml": agentGpus },
      // PVC lspo-models as an operator fills it (docs/KUBERNETES.md): base/ holds the Hugging Face checkpoint
      (dir) => cpSync(join(REPO_ROOT, "configs/models/demo-base"), join(dir, "models/base"), { recursive: true }),
    );
    expect(r.report?.error, r.report?.error).toBeUndefined();
    expect(r.code).toBe(0);
    expect(r.report.run).toMatchObject({ completed: true, lost: 0, duplicates: 0 });
    // the device plugin's part: each agent pod got both GPU ids of its node
    const agents = r.report.pods.filter((p: any) => p.name.startsWith("lspo-agent-"));
    expect(agents.map((p: any) => p.gpuIds)).toEqual([{ agent: [0, 1] }, { agent: [0, 1] }]);
    // the runtime's part: summary.json's actors say where each rollout actor ran and on which GPU
    const rollout = (r.report.actors ?? []).filter((a: any) => a.kind === "rollout");
    expect(rollout).toHaveLength(8);
    const perGpu = new Map<string, number>();
    for (const a of rollout) {
      expect(a.node, `${a.name}: summary.json's actor has no node`).toBeTruthy();
      expect(a.gpuIds, `${a.name}: summary.json's actor has no gpuIds`).toHaveLength(1);
      // an agent names itself by its pod (LSPO_NODE_NAME = metadata.name) or by the node (spec.nodeName)
      const node = r.report.pods.find((p: any) => p.name === a.node)?.node ?? a.node;
      expect(["node-1", "node-2"], `${a.name} ran on ${a.node}`).toContain(node);
      const key = `${node}/${a.gpuIds[0]}`;
      perGpu.set(key, (perGpu.get(key) ?? 0) + 1);
    }
    expect(perGpu.size).toBe(4);
    expect([...perGpu.values()]).toEqual([2, 2, 2, 2]);
  });
});
