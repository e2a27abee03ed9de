// k8s - what a careful operator checks before applying: security context, probes, resources, images pinned,
// GPU requests and /dev/shm on GPU workloads, network policy, disruption budgets, no API rights, and every
// reference (ConfigMaps, Secrets, ports, selectors) resolving inside the render.
import { resolve } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { overlayDirs, renderKustomization, splitImage, type Resource } from "./support/kustomize.js";
import { envValue, find, selects, workload, workloads } from "./support/pods.js";

const root = resolve(import.meta.dirname, "../..");
const renders: Record<string, Resource[]> = Object.fromEntries(
  Object.entries(overlayDirs(root)).map(([name, dir]) => [name, renderKustomization(dir)]),
);
const GPU_OVERLAYS = new Set(["gpu", "gpu-cuda", "external-nats"]);
const GPU_WORKLOADS = [["DaemonSet", "lspo-agent"], ["StatefulSet", "lspo-learner"]] as const;

for (const [overlay, resources] of Object.entries(renders)) {
  describe(`k8s - ${overlay}`, () => {
    const pods = workloads(resources);

    it("every pod runs as non-root with no capabilities, no privilege escalation, a read-only root and RuntimeDefault seccomp", () => {
      for (const w of pods) {
        const psc = w.spec.securityContext ?? {};
        expect(psc.runAsNonRoot, w.id).toBe(true);
        expect(psc.runAsUser, w.id).toBeGreaterThan(0);
        expect(psc.seccompProfile?.type, w.id).toBe("RuntimeDefault");
        for (const c of [...w.spec.containers, ...(w.spec.initContainers ?? [])]) {
          const sc = c.securityContext ?? {};
          const where = `${w.id} ${c.name}`;
          expect(sc.allowPrivilegeEscalation, where).toBe(false);
          expect(sc.readOnlyRootFilesystem, where).toBe(true);
          expect(sc.capabilities?.drop, where).toEqual(["ALL"]);
          expect(sc.capabilities?.add, where).toBeUndefined();
          expect(sc.privileged ?? false, where).toBe(false);
          expect(sc.runAsUser ?? psc.runAsUser, where).not.toBe(0);
        }
      }
    });

    it("every namespaced object lands in namespace lspo (an overlay's own ConfigMap too)", () => {
      for (const r of resources.filter((x) => !["Namespace"].includes(x.kind))) expect(r.metadata.namespace, `${r.kind}/${r.metadata.name}`).toBe("lspo");
    });

    it("every container has readiness and liveness probes, resource requests and a memory limit", () => {
      for (const w of pods) {
        for (const c of w.spec.containers) {
          const where = `${w.id} ${c.name}`;
          // A Job's pod is never a Service endpoint: liveness only.
          if (w.resource.kind !== "Job") expect(c.readinessProbe, where).toBeDefined();
          expect(c.livenessProbe, where).toBeDefined();
          expect(c.resources?.requests?.cpu, where).toBeDefined();
          expect(c.resources?.requests?.memory, where).toBeDefined();
          expect(c.resources?.limits?.memory, where).toBeDefined();
        }
      }
    });

    it("lspo servers serve gRPC on their port (LSPO_GRPC_PORT), register the pod IP, and are probed on the plaintext health port", () => {
      for (const w of pods.filter((p) => p.labels["app.kubernetes.io/name"] === "lspo")) {
        const c = w.spec.containers[0];
        const health = c.ports?.find((p) => p.name === "health")?.containerPort;
        expect(envValue(c, "LSPO_HEALTH_PORT"), w.id).toBe(String(health));
        // Under mutual TLS a kubelet gRPC probe (no client certificate) always fails: HTTP on the health port.
        for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe].filter(Boolean) as any[]) {
          expect(probe.grpc, w.id).toBeUndefined();
          expect(probe.httpGet?.port, w.id).toBe("health");
          expect(["/healthz", "/readyz"], w.id).toContain(probe.httpGet?.path);
        }
        expect(c.livenessProbe?.httpGet?.path, w.id).toBe("/healthz");
        if (w.resource.kind === "Job") continue; // the controller serves no gRPC
        const grpcPort = c.ports?.find((p) => p.name === "grpc")?.containerPort;
        expect(envValue(c, "LSPO_GRPC_PORT"), w.id).toBe(String(grpcPort));
        expect(c.env?.find((e) => e.name === "LSPO_GRPC_HOST")?.valueFrom?.fieldRef?.fieldPath, w.id).toBe("status.podIP");
      }
    });

    it("every image is pinned by a tag (never latest), lspo images share one version", () => {
      const versions = new Set<string>();
      for (const w of pods) {
        for (const c of w.spec.containers) {
          const { name, tag } = splitImage(c.image);
          expect(tag, `${w.id} ${c.image}`).toMatch(/^[0-9]+\.[0-9]+\.[0-9]+/);
          expect(tag).not.toBe("latest");
          if (/^lspo(-webgpu|-cuda)?$/.test(name)) versions.add(tag!);
        }
      }
      expect(versions.size).toBe(1);
    });

    it("no pod gets a service-account token, and no Role or binding grants anything", () => {
      for (const w of pods) {
        expect(w.spec.automountServiceAccountToken, w.id).toBe(false);
        const sa = find(resources, "ServiceAccount", w.spec.serviceAccountName ?? "default");
        expect((sa as any).automountServiceAccountToken, sa.metadata.name).toBe(false);
      }
      const rbac = resources.filter((r) => /Role|RoleBinding/.test(r.kind));
      expect(rbac).toEqual([]);
    });

    it("a default-deny policy covers every pod, in and out, and DNS is the only egress open to all", () => {
      const deny = find(resources, "NetworkPolicy", "default-deny-all") as any;
      expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
      const openToAll = resources.filter((r: any) => r.kind === "NetworkPolicy" && Object.keys(r.spec.podSelector).length === 0);
      expect(openToAll.map((r) => r.metadata.name).sort()).toEqual(["allow-dns", "default-deny-all"]);
    });

    it("DNS egress reaches kube-dns and node-local DNS (169.254.20.10), on port 53 only", () => {
      const dns = find(resources, "NetworkPolicy", "allow-dns") as any;
      expect(dns.spec.egress).toHaveLength(1);
      const [rule] = dns.spec.egress;
      expect(rule.to).toContainEqual({ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } });
      expect(rule.to).toContainEqual({ ipBlock: { cidr: "169.254.20.10/32" } });
      expect(rule.to).toHaveLength(2);
      expect(rule.ports).toEqual([{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }]);
    });

    it("every port a policy opens to a pod is a port that pod serves", () => {
      for (const np of resources.filter((r) => r.kind === "NetworkPolicy") as any[]) {
        for (const rule of np.spec.ingress ?? []) {
          const targets = pods.filter((w) => selects(np.spec.podSelector, w.labels));
          expect(targets.length, np.metadata.name).toBeGreaterThan(0);
          for (const port of rule.ports ?? []) {
            for (const w of targets) {
              const served = w.spec.containers.flatMap((c) => c.ports ?? []).map((p) => p.containerPort);
              // A range (endPort) is the actors' ports, started by a node agent at run time.
              if (port.endPort) expect(envValue(w.spec.containers[0], "LSPO_ACTOR_PORT_BASE"), np.metadata.name).toBe(String(port.port));
              else expect(served, `${np.metadata.name} -> ${w.id}`).toContain(port.port);
            }
          }
        }
      }
    });

    it("every lspo pod serves /metrics on its port named metrics (9464, LSPO_METRICS_PORT), which a PodMonitor scrapes where the overlay has one", () => {
      const lspoPods = pods.filter((w) => w.labels["app.kubernetes.io/name"] === "lspo");
      for (const w of lspoPods) {
        const c = w.spec.containers[0];
        expect(c.ports?.find((p) => p.name === "metrics")?.containerPort, w.id).toBe(9464);
        expect(envValue(c, "LSPO_METRICS_PORT"), w.id).toBe("9464");
      }
      const monitors = resources.filter((r) => r.kind === "PodMonitor") as any[];
      if (overlay === "gpu" || overlay === "gpu-cuda" || overlay === "external-nats") expect(monitors.length).toBe(1);
      for (const pm of monitors) {
        expect(lspoPods.filter((w) => selects(pm.spec.selector, w.labels)).length).toBe(lspoPods.length);
        expect(pm.spec.podMetricsEndpoints.map((e: any) => e.port)).toEqual(["metrics"]);
      }
    });

    it("Services select pods that serve their target ports", () => {
      for (const svc of resources.filter((r) => r.kind === "Service") as any[]) {
        const targets = pods.filter((w) => selects({ matchLabels: svc.spec.selector }, w.labels));
        expect(targets.length, svc.metadata.name).toBeGreaterThan(0);
        for (const port of svc.spec.ports) {
          for (const w of targets) {
            const names = w.spec.containers.flatMap((c) => c.ports ?? []).map((p) => p.name);
            expect(names, `${svc.metadata.name} -> ${w.id}`).toContain(port.targetPort);
          }
        }
      }
    });

    it("every Deployment and StatefulSet has a PodDisruptionBudget selecting its pods", () => {
      const pdbs = resources.filter((r) => r.kind === "PodDisruptionBudget") as any[];
      for (const w of pods.filter((p) => p.resource.kind === "Deployment" || p.resource.kind === "StatefulSet")) {
        expect(pdbs.filter((p) => selects(p.spec.selector, w.labels)).length, w.id).toBe(1);
      }
    });

    it("every ConfigMap a pod reads is in the render, with the keys it reads", () => {
      for (const w of pods) {
        const c = w.spec.containers[0];
        for (const ref of c.envFrom ?? []) if (ref.configMapRef) find(resources, "ConfigMap", ref.configMapRef.name);
        for (const e of c.env ?? []) {
          const ref = e.valueFrom?.configMapKeyRef;
          if (ref) expect(Object.keys((find(resources, "ConfigMap", ref.name) as any).data), e.name).toContain(ref.key);
        }
        for (const v of w.spec.volumes ?? []) if (v.configMap) find(resources, "ConfigMap", v.configMap.name);
      }
    });

    it("the node agent takes actorsPerGpu from ConfigMap lspo-agent, drains for minutes, and has /dev/shm in memory", () => {
      const agent = workload(resources, "DaemonSet", "lspo-agent");
      const env = agent.spec.containers[0].env!.find((e) => e.name === "LSPO_ACTORS_PER_GPU");
      expect(env?.valueFrom?.configMapKeyRef).toEqual({ name: "lspo-agent", key: "actorsPerGpu" });
      expect(Number((find(resources, "ConfigMap", "lspo-agent") as any).data.actorsPerGpu)).toBeGreaterThanOrEqual(1);
      expect(agent.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(300);
    });

    it("GPU workloads mount a memory-backed /dev/shm", () => {
      for (const [kind, name] of GPU_WORKLOADS) {
        const w = workload(resources, kind, name);
        const mount = w.spec.containers[0].volumeMounts!.find((m) => m.mountPath === "/dev/shm");
        const vol = w.spec.volumes!.find((v) => v.name === mount?.name);
        expect(vol?.emptyDir?.medium, w.id).toBe("Memory");
        expect(vol?.emptyDir?.sizeLimit, w.id).toBeDefined();
      }
    });

    if (GPU_OVERLAYS.has(overlay)) {
      it("agents and the learner request GPUs, tolerate GPU taints, pick their pool and use a GPU image and device", () => {
        for (const [kind, name] of GPU_WORKLOADS) {
          const w = workload(resources, kind, name);
          const c = w.spec.containers[0];
          expect(Number(c.resources?.limits?.["nvidia.com/gpu"]), w.id).toBeGreaterThanOrEqual(1);
          const requested = c.resources?.requests?.["nvidia.com/gpu"];
          if (requested !== undefined) expect(requested).toBe(c.resources?.limits?.["nvidia.com/gpu"]);
          expect(w.spec.tolerations, w.id).toContainEqual({ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" });
          expect(w.spec.nodeSelector?.["lspo.io/pool"], w.id).toBe(kind === "DaemonSet" ? "rollout" : "learner");
          const device = envValue(c, "LSPO_DEVICE");
          expect(splitImage(c.image).name, `${w.id} ${c.image} with LSPO_DEVICE=${device}`).toBe(`lspo-${device}`);
          if (device === "webgpu") {
            expect(envValue(c, "VK_DRIVER_FILES"), w.id).toMatch(/nvidia_icd\.json$/);
            expect(envValue(c, "__EGL_VENDOR_LIBRARY_FILENAMES"), w.id).toMatch(/10_nvidia\.json$/);
          }
        }
        expect(envValue(workload(resources, "DaemonSet", "lspo-agent").spec.containers[0], "LSPO_DEVICE")).toBe(overlay === "gpu-cuda" ? "cuda" : "webgpu");
      });

      it("verifiers scale on the LSPO_ROLLOUTS backlog through KEDA", () => {
        const so = find(resources, "ScaledObject", "lspo-verifier") as any;
        find(resources, "Deployment", so.spec.scaleTargetRef.name);
        const [trigger] = so.spec.triggers;
        expect(trigger.type).toBe("nats-jetstream");
        // The verifiers' durable consumer is "verifier-<run.name>" (libs/actors service context).
        const runName = (parse((find(resources, "ConfigMap", "lspo-run") as any).data["run.yaml"]) as any).run.name;
        expect(trigger.metadata).toMatchObject({ account: "LSPO", stream: "LSPO_ROLLOUTS", consumer: `verifier-${runName}` });
        expect((find(resources, "Deployment", "lspo-verifier") as any).spec.replicas).toBeUndefined();
      });
    } else {
      it("nothing requests a GPU, and verifiers run a fixed count (no autoscaler)", () => {
        for (const w of pods) expect(w.spec.containers[0].resources?.limits?.["nvidia.com/gpu"], w.id).toBeUndefined();
        expect(resources.some((r) => r.kind === "ScaledObject")).toBe(false);
        expect((find(resources, "Deployment", "lspo-verifier") as any).spec.replicas).toBeGreaterThanOrEqual(1);
      });
    }

    if (overlay === "external-nats") {
      it("deploys no NATS and points URL, egress and KEDA at the existing one", () => {
        expect(resources.filter((r) => r.metadata.labels?.["app.kubernetes.io/name"] === "nats")).toEqual([]);
        expect((find(resources, "ConfigMap", "lspo-env") as any).data.LSPO_NATS_URL).not.toContain("lspo-nats");
        const egress = (find(resources, "NetworkPolicy", "lspo-to-nats") as any).spec.egress[0].to[0];
        expect(egress.namespaceSelector.matchLabels["kubernetes.io/metadata.name"]).toBe("nats");
      });
    } else {
      it("runs NATS as a StatefulSet with volumes, auth from Secret lspo-nats-users, and TLS", () => {
        const nats = workload(resources, "StatefulSet", "lspo-nats");
        expect((nats.resource as any).spec.replicas).toBe(overlay === "cpu-dev" ? 1 : 3);
        expect((nats.resource as any).spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBeDefined();
        const users = nats.spec.containers[0].env!.filter((e) => e.valueFrom?.secretKeyRef?.name === "lspo-nats-users");
        expect(users.map((e) => e.valueFrom.secretKeyRef.key).sort()).toEqual(["controller", "learner", "operator", "rollout", "sampler", "verifier"]);
        const conf = (find(resources, "ConfigMap", "lspo-nats-config") as any).data;
        expect(conf["nats.conf"]).toMatch(/tls \{[^}]*cert_file/);
        expect(conf["cluster.conf"].includes("routes")).toBe(overlay !== "cpu-dev");
        expect((find(resources, "ConfigMap", "lspo-env") as any).data.LSPO_NATS_URL).toMatch(/^tls:\/\/lspo-nats\./);
      });
    }

    it("each lspo pod reads only its own NATS password", () => {
      for (const w of pods.filter((p) => p.labels["app.kubernetes.io/name"] === "lspo")) {
        const user = envValue(w.spec.containers[0], "LSPO_NATS_USER");
        const vol = w.spec.volumes!.find((v) => v.secret?.secretName === "lspo-nats-users");
        expect(vol?.secret.items, w.id).toEqual([{ key: user, path: "password" }]);
      }
    });

    it("each lspo pod mounts only its own gRPC identity (its NATS user's), and a gRPC server every identity's token digests", () => {
      const identity: Record<string, string> = {
        "DaemonSet/lspo-agent": "rollout", "Deployment/lspo-verifier": "verifier", "Deployment/lspo-sampler": "sampler",
        "StatefulSet/lspo-learner": "learner", "Job/lspo-train": "controller",
      };
      const envData = (find(resources, "ConfigMap", "lspo-env") as any).data as Record<string, string>;
      const lspoPods = pods.filter((p) => p.labels["app.kubernetes.io/name"] === "lspo");
      expect(lspoPods.map((w) => w.id).sort()).toEqual(Object.keys(identity).sort());
      for (const w of lspoPods) {
        const id = identity[w.id];
        const c = w.spec.containers[0];
        expect(envValue(c, "LSPO_NATS_USER"), w.id).toBe(id);
        const serves = c.args?.[0] === "agent" || c.args?.[0] === "serve";
        const grpcSecrets = new Set(w.spec.volumes!.map((v) => v.secret?.secretName).filter((n) => n?.startsWith("lspo-grpc-")));
        expect(grpcSecrets, w.id).toEqual(new Set([`lspo-grpc-${id}`, ...(serves ? ["lspo-grpc-token-digests"] : [])]));
        // Each variable's file is that Secret's key, through a mount of this container.
        const fileSource = (name: string) => {
          const path = envValue(c, name) ?? envData[name];
          const mount = path ? c.volumeMounts!.find((m) => path.startsWith(`${m.mountPath}/`)) : undefined;
          const vol = w.spec.volumes!.find((v) => v.name === mount?.name);
          const item = vol?.secret?.items?.find((i: { path: string }) => `${mount!.mountPath}/${i.path}` === path);
          return item ? `${vol!.secret.secretName}/${item.key}` : `${name}=${path}: no Secret key`;
        };
        expect(fileSource("LSPO_GRPC_TLS_CERT"), w.id).toBe(`lspo-grpc-${id}/tls.crt`);
        expect(fileSource("LSPO_GRPC_TLS_KEY"), w.id).toBe(`lspo-grpc-${id}/tls.key`);
        expect(fileSource("LSPO_GRPC_TLS_CA"), w.id).toBe(`lspo-grpc-${id}/ca.crt`);
        expect(fileSource("LSPO_GRPC_TOKEN_FILE"), w.id).toBe(`lspo-grpc-${id}/token`);
        if (serves) expect(fileSource("LSPO_GRPC_TOKEN_DIGESTS_FILE"), w.id).toBe("lspo-grpc-token-digests/digests");
        else expect(envValue(c, "LSPO_GRPC_TOKEN_DIGESTS_FILE"), w.id).toBeUndefined();
      }
    });
  });
}
