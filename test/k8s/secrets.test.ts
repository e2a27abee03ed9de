// k8s - deploy/make-secrets.sh makes exactly the Secrets (names and keys) the manifests reference, and valid ones:
// one set of credentials per identity, each certificate naming its identity, each token matched by its digest.
import { spawnSync } from "node:child_process";
import { X509Certificate, createHash } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { overlayDirs, parseYamlDocuments, renderKustomization, type Resource } from "./support/kustomize.js";
import { workloads } from "./support/pods.js";
import { schemaErrors, unknownFields } from "./support/schemas.js";

const root = resolve(import.meta.dirname, "../..");
const identities = ["rollout", "verifier", "sampler", "learner", "controller", "operator"];
let dir: string;
let out: string;
let secrets: Resource[];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "lspo-secrets-"));
  out = join(dir, "secrets");
  const r = spawnSync("bash", [join(root, "deploy/make-secrets.sh"), out, "lspo"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`make-secrets.sh failed: ${r.stderr}`);
  secrets = parseYamlDocuments(readFileSync(join(out, "k8s-secrets.yaml"), "utf8"), "k8s-secrets.yaml") as Resource[];
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const data = (name: string): Record<string, string> => {
  const s = secrets.find((x) => x.metadata.name === name) as unknown as { data: Record<string, string> } | undefined;
  if (!s) throw new Error(`make-secrets.sh made no Secret ${name}`);
  return Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]));
};

/** subjectAltName as openssl prints it: the script's own tool, so the check does not depend on Node's parsing. */
function sanOf(certFile: string): string[] {
  const r = spawnSync("openssl", ["x509", "-noout", "-ext", "subjectAltName", "-in", certFile], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl x509 ${certFile}: ${r.stderr}`);
  return r.stdout.split("\n").slice(1).join(",").split(",").map((x) => x.trim()).filter(Boolean);
}

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
    expect(secrets.map((s) => s.metadata.name).sort()).toEqual(
      [...identities.map((id) => `lspo-grpc-${id}`), "lspo-grpc-token-digests", "lspo-nats-tls", "lspo-nats-users"].sort(),
    );
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
  });

  it("one NATS password per identity, operator included, and nats.env names each for nats-server", () => {
    const users = data("lspo-nats-users");
    expect(Object.keys(users).sort()).toEqual([...identities].sort());
    expect(new Set(Object.values(users)).size).toBe(identities.length);
    const env = readFileSync(join(out, "nats.env"), "utf8");
    for (const id of identities) {
      expect(readFileSync(join(out, "nats-users", id), "utf8")).toBe(users[id]);
      expect(env).toContain(`LSPO_NATS_${id.toUpperCase()}_PASSWORD=${users[id]}\n`);
    }
  });

  it("each identity's certificate carries its URI SAN spiffe://lspo/<identity> and the fixed name lspo, signed by the CA", () => {
    const ca = new X509Certificate(readFileSync(join(out, "tls/ca.crt")));
    const uris = new Set<string>();
    for (const id of identities) {
      const s = data(`lspo-grpc-${id}`);
      expect(Object.keys(s).sort(), id).toEqual(["ca.crt", "tls.crt", "tls.key", "token"]);
      expect(s["tls.crt"], id).toBe(readFileSync(join(out, `tls/${id}.crt`), "utf8"));
      expect(s["tls.key"], id).toBe(readFileSync(join(out, `tls/${id}.key`), "utf8"));
      expect(s["ca.crt"], id).toBe(readFileSync(join(out, "tls/ca.crt"), "utf8"));
      const san = sanOf(join(out, `tls/${id}.crt`));
      expect(san.filter((x) => x.startsWith("URI:")), id).toEqual([`URI:spiffe://lspo/${id}`]);
      expect(san, id).toEqual(expect.arrayContaining(["DNS:lspo", "DNS:localhost", "IP Address:127.0.0.1"]));
      uris.add(san.find((x) => x.startsWith("URI:"))!);
      const cert = new X509Certificate(s["tls.crt"]);
      expect(cert.verify(ca.publicKey), id).toBe(true);
      expect(cert.checkHost("lspo"), id).toBe("lspo");
      expect(cert.keyUsage, id).toEqual(expect.arrayContaining(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"])); // serverAuth, clientAuth
      expect(cert.checkHost("lspo-learner.other.svc.cluster.local"), id).toBeUndefined();
    }
    expect(uris.size).toBe(identities.length);
    // Service names for direct use and port-forwards: each workload's own; the agent DaemonSet is rollout's.
    const names = (id: string) => sanOf(join(out, `tls/${id}.crt`)).filter((x) => x.startsWith("DNS:lspo-"));
    expect(names("learner")).toContain("DNS:lspo-learner.lspo.svc.cluster.local");
    expect(names("learner").some((n) => n.startsWith("DNS:lspo-sampler"))).toBe(false);
    expect(names("rollout")).toEqual(expect.arrayContaining(["DNS:lspo-rollout.lspo.svc", "DNS:lspo-agent.lspo.svc.cluster.local"]));
    expect(names("operator")).toEqual([]);
  });

  it("one token per identity, and the digests file holds each token's sha256 and nothing else", () => {
    const tokens = Object.fromEntries(identities.map((id) => [id, readFileSync(join(out, "grpc-tokens", id), "utf8").trim()]));
    expect(new Set(Object.values(tokens)).size).toBe(identities.length);
    const digests = readFileSync(join(out, "grpc-token-digests"), "utf8");
    expect(data("lspo-grpc-token-digests")).toEqual({ digests });
    const lines = digests.trim().split("\n").map((l) => l.split(" "));
    expect(lines.map(([id]) => id)).toEqual(identities);
    for (const [id, hex] of lines) {
      expect(hex, id).toBe(createHash("sha256").update(tokens[id]).digest("hex"));
      expect(data(`lspo-grpc-${id}`).token, id).toBe(tokens[id]);
      expect(digests, id).not.toContain(tokens[id]);
    }
  });

  it("the host directories are private; compose's bind-mounted files readable by the containers' user; the CA key not", () => {
    for (const d of ["", "nats-users", "grpc-tokens", "tls"]) expect(statSync(join(out, d)).mode & 0o777, `${d || "."}/`).toBe(0o700);
    for (const id of identities) {
      for (const f of [`tls/${id}.crt`, `tls/${id}.key`, `grpc-tokens/${id}`, `nats-users/${id}`]) expect(statSync(join(out, f)).mode & 0o004, f).toBe(0o004);
    }
    expect(statSync(join(out, "tls/ca.key")).mode & 0o077).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["grpc-token-digests", "grpc-tokens", "k8s-secrets.yaml", "nats-users", "nats.env", "tls"]);
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
