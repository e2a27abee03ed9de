// deploy - compose.yaml is valid against the Compose specification's JSON schema (shipped in the dclint package)
// and runs every component the way the Kubernetes manifests do: non-root, read-only, no capabilities,
// each with its own NATS identity, the same images.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { Ajv } from "ajv";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { renderKustomization, splitImage } from "./support/kustomize.js";
import { workload } from "./support/pods.js";

const root = resolve(import.meta.dirname, "../..");
const require = createRequire(import.meta.url);
const schemaPath = join(dirname(require.resolve("dclint/package.json")), "schemas/compose.schema.json");

function composeSchema(): object {
  const schema = JSON.parse(readFileSync(schemaPath, "utf8"));
  // Draft 07, written as an https URL that ajv does not know by that name; ajv validates draft 07 by default.
  delete schema.$schema;
  return schema;
}

function loadCompose(text: string): any {
  return parse(text, { merge: true }); // `<<: *lspo` as compose reads it
}

const validate = new Ajv({ allErrors: true, strict: false }).compile(composeSchema());
const compose = loadCompose(readFileSync(join(root, "deploy/compose.yaml"), "utf8"));
const lspoServices = ["agent", "verifier", "sampler", "learner", "controller"];

describe("deploy - compose.yaml", () => {
  it("is valid against the Compose specification schema", () => {
    const ok = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(ok).toBe(true);
  });

  it("the schema check catches a misspelt service key", () => {
    const broken = loadCompose(readFileSync(join(root, "deploy/compose.yaml"), "utf8"));
    broken.services.verifier.read_onyl = true;
    expect(validate(broken)).toBe(false);
    expect(JSON.stringify(validate.errors)).toMatch(/read_onyl/);
  });

  it("runs NATS and every component", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["nats", ...lspoServices].sort());
    expect(compose.services.nats.volumes).toContain("nats-data:/data");
  });

  it("each component is non-root, read-only, without capabilities, with its own NATS identity and password", () => {
    const users: Record<string, string> = { agent: "rollout" };
    for (const name of lspoServices) {
      const s = compose.services[name];
      expect(s.user, name).toBe("10001:10001");
      expect(s.read_only, name).toBe(true);
      expect(s.cap_drop, name).toEqual(["ALL"]);
      expect(s.security_opt, name).toContain("no-new-privileges:true");
      const user = users[name] ?? name;
      expect(s.environment.LSPO_NATS_USER, name).toBe(user);
      expect(s.secrets, name).toContainEqual({ source: `nats-${user}-password`, target: "nats-password" });
      expect(compose.secrets[`nats-${user}-password`].file).toBe(`./secrets/nats-users/${user}`);
    }
  });

  it("each component mounts only its own gRPC identity (certificate, key, token), the CA, and a server the token digests", () => {
    const users: Record<string, string> = { agent: "rollout" };
    for (const name of lspoServices) {
      const s = compose.services[name];
      const id = users[name] ?? name;
      const serves = s.command[0] === "agent" || s.command[0] === "serve";
      const grpc = s.secrets.filter((x: string | { source: string }) => (typeof x === "string" ? x : x.source).startsWith("grpc-"));
      expect(grpc, name).toEqual([
        { source: `grpc-${id}-cert`, target: "grpc-tls.crt" },
        { source: `grpc-${id}-key`, target: "grpc-tls.key" },
        { source: "grpc-ca", target: "grpc-ca.crt" },
        { source: `grpc-${id}-token`, target: "grpc-token" },
        ...(serves ? ["grpc-token-digests"] : []),
      ]);
      expect(compose.secrets[`grpc-${id}-cert`].file).toBe(`./secrets/tls/${id}.crt`);
      expect(compose.secrets[`grpc-${id}-key`].file).toBe(`./secrets/tls/${id}.key`);
      expect(compose.secrets[`grpc-${id}-token`].file).toBe(`./secrets/grpc-tokens/${id}`);
      expect(s.environment, name).toMatchObject({
        LSPO_GRPC_TLS_CERT: "/run/secrets/grpc-tls.crt", LSPO_GRPC_TLS_KEY: "/run/secrets/grpc-tls.key",
        LSPO_GRPC_TLS_CA: "/run/secrets/grpc-ca.crt", LSPO_GRPC_TOKEN_FILE: "/run/secrets/grpc-token",
      });
      expect(s.environment.LSPO_GRPC_TOKEN_DIGESTS_FILE, name).toBe(serves ? "/run/secrets/grpc-token-digests" : undefined);
    }
    expect(compose.secrets["grpc-ca"].file).toBe("./secrets/tls/ca.crt");
    expect(compose.secrets["grpc-token-digests"].file).toBe("./secrets/grpc-token-digests");
  });

  it("uses the images and tags the Kubernetes manifests use", () => {
    const cpu = renderKustomization(join(root, "k8s/overlays/cpu-dev"));
    expect(compose.services.nats.image).toBe(workload(cpu, "StatefulSet", "lspo-nats").spec.containers[0].image);
    const lspoImage = workload(cpu, "Deployment", "lspo-verifier").spec.containers[0].image;
    for (const name of lspoServices) expect(compose.services[name].image, name).toBe(lspoImage);
    expect(splitImage(lspoImage).tag).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
