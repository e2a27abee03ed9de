// k8s - the run each overlay deploys (ConfigMap lspo-run) is a valid run configuration for @lspo/config, and
// agrees with the manifests: stream replicas = NATS servers, run directory on the Job's runs volume.
import { resolve } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { resolveConfig } from "@lspo/config";
import { overlayDirs, renderKustomization } from "./support/kustomize.js";
import { find, workload } from "./support/pods.js";

const root = resolve(import.meta.dirname, "../..");

describe("k8s - run configuration", () => {
  for (const [name, dir] of Object.entries(overlayDirs(root))) {
    it(`${name} - lspo-run resolves with @lspo/config and matches the deployment`, () => {
      const resources = renderKustomization(dir);
      const text = (find(resources, "ConfigMap", "lspo-run") as any).data["run.yaml"];
      const config = resolveConfig(parse(text), [], `${name}/run.yaml`);
      const nats = resources.find((r) => r.kind === "StatefulSet" && r.metadata.name === "lspo-nats") as any;
      if (nats) expect(config.nats.replicas).toBe(nats.spec.replicas);
      const job = workload(resources, "Job", "lspo-train");
      const runs = job.spec.containers[0].volumeMounts!.find((m) => m.name === "runs")!.mountPath;
      expect(config.run.dir.startsWith(`${runs}/`), config.run.dir).toBe(true);
      // Every component reads the same file.
      for (const w of ["DaemonSet/lspo-agent", "Deployment/lspo-verifier", "Deployment/lspo-sampler", "StatefulSet/lspo-learner", "Job/lspo-train"]) {
        const [kind, n] = w.split("/");
        const c = workload(resources, kind, n).spec.containers[0] as any;
        const arg = c.args[c.args.indexOf(kind === "Job" ? "-c" : "--config") + 1];
        expect(arg, w).toBe("/etc/lspo/run.yaml");
        expect(c.volumeMounts.find((m: any) => m.mountPath === arg)?.subPath, w).toBe("run.yaml");
      }
    });
  }

  it("a bad key in a run file is refused, naming it", () => {
    expect(() => resolveConfig(parse("nats:\n  replica: 3\n"), [], "run.yaml")).toThrow(/replica/);
  });
});
