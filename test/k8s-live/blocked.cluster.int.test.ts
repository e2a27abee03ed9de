// A NetworkPolicy with one allow rule removed (lspo pods' egress to NATS): the first pod that connects to
// NATS is dropped, and the check fails naming the connection: source pod, destination pod, port.
import { rmSync } from "node:fs";
import { expect, it } from "vitest";
import { runCheck } from "./support/run-check.js";
import { describeLive } from "./support/skip.js";

const removeNatsEgress = `- target: { kind: NetworkPolicy, name: lspo-to-nats }
  patch: |
    - op: remove
      path: /spec/egress/0
`;

describeLive("k8s-live blocked", () => {
  it("k8s-live blocked - a removed allow rule fails the check naming the blocked connection", { timeout: 600_000 }, async () => {
    const r = await runCheck(["--overlay", "cpu-dev", "--nodes", "2", "--patch", "{dir}/no-nats-egress.yaml", "--timeout", "420"], { "no-nats-egress.yaml": removeNatsEgress });
    expect(r.code).toBe(1);
    const named = /NetworkPolicy blocked lspo-[a-z0-9-]+ \(10\.214\.\d+\.\d+\) -> lspo-nats-0 \(10\.214\.\d+\.\d+\):4222\/tcp: no egress rule of lspo-[a-z0-9-]+ allows it \(policies selecting it: [^)]*lspo-to-nats[^)]*\)/;
    expect(r.report?.error).toMatch(named);
    expect(r.stderr).toMatch(named);
    expect(r.report.customized.some((c: string) => c.startsWith("patch "))).toBe(true);
    // a failed check keeps its pods' logs for whoever reads the error; this failure was the expected one
    expect(r.report.dir).toMatch(/^\/var\/tmp\/lspo-k8s-live\//);
    rmSync(r.report.dir, { recursive: true, force: true });
  });
});
