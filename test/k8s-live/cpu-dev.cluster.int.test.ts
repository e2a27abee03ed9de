// cpu-dev, rendered and run on 2 namespace nodes: Job lspo-train completes a short run with nothing lost
// or duplicated, under the overlay's NetworkPolicies, and no lspo pod is restarted by its probes.
import { expect, it } from "vitest";
import { runCheck } from "./support/run-check.js";
import { describeLive } from "./support/skip.js";

describeLive("k8s-live cpu-dev", () => {
  it("k8s-live cpu-dev - completes a run on 2 nodes", { timeout: 900_000 }, async () => {
    // The overlay as shipped: its run.yaml is smoke-sized already.
    const r = await runCheck(["--overlay", "cpu-dev", "--nodes", "2", "--timeout", "780"]);
    expect(r.report?.error, r.report?.error).toBeUndefined();
    expect(r.code).toBe(0);
    expect(r.report.networkPoliciesEnforced).toBe(true);
    expect(r.report.run).toMatchObject({ completed: true, lost: 0, duplicates: 0 });
    expect(r.report.nodes.map((n: any) => n.name)).toEqual(["node-1", "node-2"]);
    for (const p of r.report.pods) {
      expect(p.node, p.name).toMatch(/^node-\d+$/);
      expect(p.ip, p.name).toMatch(/^10\.214\.\d+\.\d+$/);
      if (p.name.startsWith("lspo-")) expect(p.probeRestarts, `${p.name} restarted by a failing probe`).toBe(0);
    }
  });
});
