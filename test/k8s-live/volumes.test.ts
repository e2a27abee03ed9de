// Where a container's mounts go (support/volumes.ts): only empty mount points on the machine, a private
// tmpfs over a missing ancestor for the rest, read-only remounts, then the command.
import { describe, expect, it } from "vitest";
import { missingAncestors, mountScript, type MountPlan } from "./support/volumes.js";

const plans: MountPlan[] = [
  { source: "/w/run.yaml", target: "/etc/lspo/run.yaml", readOnly: true, file: true },
  { source: "/w/nats", target: "/etc/lspo/nats", readOnly: true, file: false },
  { source: "/w/tmp", target: "/tmp", readOnly: false, file: false },
  { source: "/w/pvc", target: "/var/lib/lspo", readOnly: false, file: false },
  { source: "/w/runs", target: "/var/lib/lspo/runs", readOnly: false, file: false },
];
const existing = new Set(["/", "/etc", "/tmp", "/var", "/var/lib"]);

describe("k8s-live volumes", () => {
  it("k8s-live volumes - the first missing ancestor of each mount not inside another mount", () => {
    expect(missingAncestors(plans, (p) => existing.has(p))).toEqual([
      { path: "/etc/lspo", isTarget: false, file: false },
      { path: "/var/lib/lspo", isTarget: true, file: false },
    ]);
  });

  it("k8s-live volumes - mount script: tmpfs first, shallow mounts before deep ones, read-only last, then exec", () => {
    const s = mountScript(plans, ["/etc/lspo"], "pod-0").split("\n");
    expect(s[0]).toBe("set -e");
    expect(s[1]).toBe("mount -t tmpfs -o mode=0755,size=4m lspo-live '/etc/lspo'");
    expect(s.indexOf("mount --bind '/w/pvc' '/var/lib/lspo'")).toBeLessThan(s.indexOf("mount --bind '/w/runs' '/var/lib/lspo/runs'"));
    expect(s).toContain("mkdir -p '/etc/lspo'; [ -e '/etc/lspo/run.yaml' ] || : > '/etc/lspo/run.yaml'");
    expect(s.slice(-4)).toEqual(["mount -o remount,bind,ro '/etc/lspo/run.yaml'", "mount -o remount,bind,ro '/etc/lspo/nats'", "hostname 'pod-0'", 'exec "$@"']);
  });

  it("k8s-live volumes - the image's files stay visible when a volume covers their path (a checkout under /tmp)", () => {
    const s = mountScript([{ source: "/w/tmp", target: "/tmp", readOnly: false, file: false } as MountPlan], [], "pod-0", { repo: "/tmp/ci/lspo", stage: "/w/view", cwd: "/tmp/ci/lspo" }).split("\n");
    // bound aside before /tmp is covered, bound back after, and the container starts there
    expect(s.indexOf("mount --bind '/tmp/ci/lspo' '/w/view'")).toBeLessThan(s.indexOf("mount --bind '/w/tmp' '/tmp'"));
    expect(s).toContain("[ -e '/tmp/ci/lspo/package.json' ] || { mkdir -p '/tmp/ci/lspo'; mount --bind '/w/view' '/tmp/ci/lspo'; }");
    expect(s.indexOf("cd '/tmp/ci/lspo'")).toBeGreaterThan(s.indexOf("mount --bind '/w/tmp' '/tmp'"));
  });
});
