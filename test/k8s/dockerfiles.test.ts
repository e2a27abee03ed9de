// deploy - the three images are multi-stage, pinned, non-root, tini as PID 1, and agree with the manifests:
// every workspace's manifest is copied before `npm ci`, the uid is the one Kubernetes runs as, the GPU images
// carry what their provider needs.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { DockerfileParser } from "dockerfile-ast";
import { describe, expect, it } from "vitest";
import { renderKustomization } from "./support/kustomize.js";
import { workload } from "./support/pods.js";

const root = resolve(import.meta.dirname, "../..");
const FILES = { cpu: "deploy/Dockerfile", webgpu: "deploy/Dockerfile.webgpu", cuda: "deploy/Dockerfile.cuda" } as const;
const workspaces: string[] = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).workspaces;

function instructions(file: string): Array<{ keyword: string; args: string[]; text: string }> {
  const df = DockerfileParser.parse(readFileSync(join(root, file), "utf8"));
  return df.getInstructions().map((i) => ({ keyword: i.getKeyword(), args: i.getArguments().map((a) => a.getValue()), text: i.getTextContent() }));
}

/** ARG defaults before the first FROM (the pinned base images). */
function argDefaults(ins: ReturnType<typeof instructions>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const i of ins) {
    if (i.keyword === "FROM") break;
    if (i.keyword === "ARG") {
      const [k, v] = i.args[0].split("=", 2);
      out[k] = v;
    }
  }
  return out;
}

describe("deploy - Dockerfiles", () => {
  for (const [kind, file] of Object.entries(FILES)) {
    const ins = instructions(file);
    const froms = ins.filter((i) => i.keyword === "FROM");

    it(`${kind} - multi-stage, every base image pinned by a version tag`, () => {
      expect(froms.length).toBeGreaterThanOrEqual(2);
      const args = argDefaults(ins);
      const stages = new Set(froms.map((f) => f.args[2]).filter(Boolean));
      for (const f of froms) {
        const ref = f.args[0].replace(/^\$\{(\w+)\}$/, (_, name: string) => args[name] ?? `<unset ${name}>`);
        if (stages.has(ref)) continue; // FROM an earlier stage
        expect(ref, f.text).toMatch(/^[\w./-]+:\d+\.\d+\.\d+[\w.-]*$/);
        expect(ref).not.toMatch(/:latest$/);
      }
    });

    it(`${kind} - copies every workspace manifest before npm ci (so --omit=dev installs all runtime deps)`, () => {
      const copies = ins.filter((i) => i.keyword === "COPY").map((i) => i.args.join(" "));
      const npmCi = ins.findIndex((i) => i.keyword === "RUN" && /npm ci --omit=dev/.test(i.text));
      expect(npmCi).toBeGreaterThan(0);
      const before = ins.slice(0, npmCi).filter((i) => i.keyword === "COPY").map((i) => i.args.join(" "));
      for (const ws of workspaces) expect(before, ws).toContain(`${ws}/package.json ${ws}/`);
      expect(copies.length).toBeGreaterThan(workspaces.length);
    });

    it(`${kind} - runs as uid 10001 (what the pods' securityContext says) under tini`, () => {
      const runtime = ins.slice(ins.lastIndexOf(froms[froms.length - 1]));
      const users = runtime.filter((i) => i.keyword === "USER");
      expect(users.at(-1)?.args[0]).toBe("10001:10001");
      const entry = runtime.find((i) => i.keyword === "ENTRYPOINT");
      expect(JSON.parse(entry!.text.replace(/^ENTRYPOINT\s+/, ""))).toEqual(
        ["tini", "--", "node", "--conditions=source", "--import", "tsx", "services/controller/src/cli.ts"],
      );
      expect(runtime.some((i) => i.keyword === "RUN" && /apt-get install[^&]*\btini\b/.test(i.text))).toBe(true);
      const cpu = renderKustomization(join(root, "k8s/overlays/cpu-dev"));
      expect(workload(cpu, "DaemonSet", "lspo-agent").spec.securityContext?.runAsUser).toBe(10001);
    });

    it(`${kind} - exposes the gRPC ports the services use and the metrics port`, () => {
      const exposed = ins.filter((i) => i.keyword === "EXPOSE").flatMap((i) => i.args.map(Number));
      expect(exposed.sort((a, b) => a - b)).toEqual([9464, 50051, 50052, 50053, 50054, 50055, 50056]);
    });
  }

  it("webgpu - installs the Vulkan loader and glvnd libraries and lets the driver's graphics parts in", () => {
    const text = readFileSync(join(root, FILES.webgpu), "utf8");
    for (const pkg of ["libvulkan1", "libegl1", "libglvnd0", "libopengl0", "libgl1", "libglx0", "libgles2"]) expect(text).toMatch(new RegExp(`\\b${pkg}\\b`));
    expect(text).toMatch(/NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics/);
    expect(text).toMatch(/LSPO_DEVICE=webgpu/);
  });

  it("cuda - installs onnxruntime-node's CUDA 12 provider at build time and checks it arrived", () => {
    const text = readFileSync(join(root, FILES.cuda), "utf8");
    expect(text).toMatch(/npm ci --omit=dev/);
    expect(text).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules\/onnxruntime-node\/script\/install/);
    expect(text).toMatch(/test -f node_modules\/onnxruntime-node\/bin\/napi-v6\/linux\/x64\/libonnxruntime_providers_cuda\.so/);
    expect(text).toMatch(/LSPO_DEVICE=cuda/);
  });

  it("the runtime runs TypeScript with tsx, so tsx must be a production dependency", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    expect(pkg.dependencies?.tsx).toBeDefined();
    expect(pkg.devDependencies?.tsx).toBeUndefined();
  });

  it(".dockerignore keeps host node_modules, git history and secrets out of the build context", () => {
    const lines = readFileSync(join(root, ".dockerignore"), "utf8").split("\n").map((l) => l.trim());
    for (const p of ["**/node_modules", ".git", "deploy"]) expect(lines).toContain(p);
  });
});
