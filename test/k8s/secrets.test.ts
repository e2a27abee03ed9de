// k8s - deploy/make-secrets.sh makes exactly the Secrets (names and keys) the manifests reference, and valid ones.
import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { overlayDirs, parseYamlDocuments, renderKustomization, type Resource } from "./support/kustomize.js";
import { workloads } from "./support/pods.js";
import { schemaErrors, unknownFields } from "./support/schemas.js";

const root = resolve(import.meta.dirname, "../..");
let dir: string;
let secrets: Resource[];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "lspo-secrets-"));
  const out = join(dir, "secrets");
  const r = spawnSync("bash", [join(root, "deploy/make-secrets.sh"), out, "lspo"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`make-secrets.sh failed: ${r.stderr}`);
  secrets = parseYamlDocuments(readFileSync(join(out, "k8s-secrets.yaml"), "utf8"), "k8s-secrets.yaml") as Resource[];
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** secret name -> keys the render reads (a volume without items reads the whole Secret: key "*"). */
function referencedSecrets(resources: Resource[]): Map<string, Set<string>> {
  const refs = new Map<string, Set<string>>();
  const use = (name: string, key: string) => refs.set(name, (refs.get(name) ?? new Set()).add(key));
  for (const w of workloads(resources)) {
    for (const v of w.spec.volumes ?? []) {
      if (!v.secret) continue;
      for (const item of v.secret.items ?? [{ key: "*" }]) use(v.secret.secretName, item.key);
    }
    for (const c of w.spec.containers) {
      for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef) use(e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key);
      for (const e of c.envFrom ?? []) if (e.secretRef) use(e.secretRef.name, "*");
    }
  }
  return refs;
}

describe("k8s - secrets", () => {
  it("make-secrets.sh writes valid Secrets in the namespace, none empty", () => {
    expect(secrets.map((s) => s.metadata.name).sort()).toEqual(["lspo-grpc-tls", "lspo-grpc-token", "lspo-nats-tls", "lspo-nats-users"]);
    for (const s of secrets) {
      expect(schemaErrors(s), s.metadata.name).toEqual([]);
      expect(unknownFields(s), s.metadata.name).toEqual([]);
      expect(s.metadata.namespace).toBe("lspo");
      for (const [k, v] of Object.entries((s as any).data)) expect(Buffer.from(v as string, "base64").length, `${s.metadata.name}.${k}`).toBeGreaterThan(16);
    }
  });

  for (const [name, overlayDir] of Object.entries(overlayDirs(root))) {
    it(`${name} - every Secret and key the manifests read is one make-secrets.sh makes`, () => {
      const refs = referencedSecrets(renderKustomization(overlayDir));
      expect(refs.size).toBeGreaterThan(0);
      for (const [secretName, keys] of refs) {
        const s = secrets.find((x) => x.metadata.name === secretName);
        expect(s, `Secret ${secretName}`).toBeDefined();
        for (const key of keys) if (key !== "*") expect(Object.keys((s as any).data), `${secretName}.${key}`).toContain(key);
      }
    });
  }

  it("the NATS certificate names the Service, the cluster routes' hosts and nothing outside the namespace", () => {
    const nats = secrets.find((s) => s.metadata.name === "lspo-nats-tls") as any;
    const pem = Buffer.from(nats.data["tls.crt"], "base64").toString();
    const cert = new X509Certificate(pem);
    const ca = new X509Certificate(Buffer.from(nats.data["ca.crt"], "base64").toString());
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkHost("lspo-nats.lspo.svc.cluster.local")).toBe("lspo-nats.lspo.svc.cluster.local");
    expect(cert.checkHost("lspo-nats-2.lspo-nats-headless.lspo.svc.cluster.local")).toBeDefined();
    expect(cert.checkHost("lspo-nats.other.svc.cluster.local")).toBeUndefined();
    const grpc = new X509Certificate(Buffer.from((secrets.find((s) => s.metadata.name === "lspo-grpc-tls") as any).data["tls.crt"], "base64").toString());
    expect(grpc.checkHost("lspo")).toBe("lspo");
    expect(grpc.checkHost("lspo-learner.lspo.svc.cluster.local")).toBeDefined();
  });

  it("refuses to overwrite an existing directory", () => {
    const r = spawnSync("bash", [join(root, "deploy/make-secrets.sh"), join(dir, "secrets")], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/already exists/);
  });

  it("the NATS config shipped in k8s/nats is the one in deploy/nats", () => {
    expect(readFileSync(join(root, "k8s/nats/accounts.conf"), "utf8")).toBe(readFileSync(join(root, "deploy/nats/accounts.conf"), "utf8"));
  });
});
