// k8s - the code, the environment table (libs/config ENVIRONMENT) and the rendered manifests agree both ways:
// every variable the code reads is in the table and the table lists nothing the code does not read; every
// variable an lspo container sets is one the code reads and a deployment may set, and every container sets
// what its workload needs (the NATS identity, TLS, the health and metrics ports; an agent's kinds, labels,
// actor ports and drain time).
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ENVIRONMENT, envEntry } from "@lspo/config";
import { overlayDirs, renderKustomization } from "./support/kustomize.js";
import { workloads } from "./support/pods.js";

const root = resolve(import.meta.dirname, "../..");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return f === "node_modules" || f === "dist" || f === "test" ? [] : sources(p);
    return p.endsWith(".ts") ? [p] : [];
  });
}

/** Variables the code reads: env.X, env["X"], envInt("X"), and prefixes read as env[`X${...}`]. */
function readByCode(): Set<string> {
  const out = new Set<string>();
  for (const base of ["libs", "services"]) {
    for (const pkg of readdirSync(join(root, base))) {
      const src = join(root, base, pkg, "src");
      if (!statSync(join(root, base, pkg)).isDirectory()) continue;
      for (const file of (() => { try { return sources(src); } catch { return []; } })()) {
        const text = readFileSync(file, "utf8");
        for (const m of text.matchAll(/env(?:\.|\[["'])(LSPO_[A-Z0-9_]+)|envInt\("(LSPO_[A-Z0-9_]+)"|env\[`(LSPO_[A-Z0-9_]+_)\$\{/g)) out.add(m[1] ?? m[2] ?? m[3]);
      }
    }
  }
  return out;
}

describe("k8s - environment", () => {
  it("the table lists exactly the variables the code reads", () => {
    const read = readByCode();
    expect(read.size).toBeGreaterThan(30);
    expect([...read].filter((v) => !(v in ENVIRONMENT)).sort(), "read by the code, missing from libs/config/src/environment.ts").toEqual([]);
    expect(Object.keys(ENVIRONMENT).filter((v) => !read.has(v)).sort(), "in the table, read by no code").toEqual([]);
  });

  it("compose sets only variables the code reads and a deployment may set", () => {
    const compose = parse(readFileSync(join(root, "deploy/compose.yaml"), "utf8"), { merge: true }) as { services: Record<string, { environment?: Record<string, string> }> };
    const set = Object.values(compose.services).flatMap((svc) => Object.keys(svc.environment ?? {})).filter((n) => n.startsWith("LSPO_"));
    expect(set.length).toBeGreaterThan(20);
    for (const name of set) expect(envEntry(name)?.setBy, `compose sets ${name}`).toBe("deploy");
  });

  for (const [overlay, dir] of Object.entries(overlayDirs(root))) {
    it(`${overlay} - every lspo container sets only variables the code reads, and all its workload needs`, () => {
      const resources = renderKustomization(dir);
      const envConfigMap = resources.find((r) => r.kind === "ConfigMap" && r.metadata.name === "lspo-env") as unknown as { data: Record<string, string> };
      let checked = 0;
      for (const w of workloads(resources).filter((x) => x.labels["app.kubernetes.io/name"] === "lspo")) {
        for (const c of w.spec.containers) {
          const set = new Set<string>((c.env ?? []).map((e) => e.name));
          for (const from of (c as { envFrom?: Array<{ configMapRef?: { name: string } }> }).envFrom ?? []) {
            if (from.configMapRef?.name === "lspo-env") for (const k of Object.keys(envConfigMap.data)) set.add(k);
          }
          const where = `${w.id} ${c.name}`;
          for (const name of set) {
            if (!name.startsWith("LSPO_")) continue;
            const entry = envEntry(name);
            expect(entry, `${where} sets ${name}, which no code reads`).toBeDefined();
            expect(["deploy"], `${where} sets ${name}, which only ${entry?.setBy} sets`).toContain(entry!.setBy);
          }
          const isAgent = c.args?.[0] === "agent";
          const serves = isAgent || c.args?.[0] === "serve";
          for (const [name, entry] of Object.entries(ENVIRONMENT) as Array<[string, { needs?: string }]>) {
            const needed = entry.needs === "all" || (entry.needs === "agent" && isAgent) || (entry.needs === "server" && serves);
            if (needed) expect(set.has(name), `${where} does not set ${name} (needed by ${entry.needs === "all" ? "every lspo container" : entry.needs === "agent" ? "node agents" : "gRPC servers"})`).toBe(true);
          }
          checked++;
        }
      }
      expect(checked).toBeGreaterThanOrEqual(5);
    });

    it(`${overlay} - an agent drains within its grace period, and its actor ports are the range the policies open`, () => {
      const resources = renderKustomization(dir);
      const agents = workloads(resources).filter((w) => w.spec.containers[0].args?.[0] === "agent");
      expect(agents.map((a) => a.id).sort()).toEqual(["DaemonSet/lspo-agent", "Deployment/lspo-sampler", "StatefulSet/lspo-learner"]);
      for (const a of agents) {
        const env = Object.fromEntries((a.spec.containers[0].env ?? []).map((e) => [e.name, e.value]));
        const grace = (a.spec as { terminationGracePeriodSeconds?: number }).terminationGracePeriodSeconds ?? 30;
        expect(Number(env.LSPO_DRAIN_S), a.id).toBeLessThan(grace);
        expect(env.LSPO_ACTOR_PORT_BASE, a.id).toBe("50100");
      }
    });
  }
});
