// Architecture rules as tests (docs/ARCHITECTURE.md "Layering"):
// - dependencies point one way: services -> libs; a lib never imports a service;
// - packages import each other only through their public entry (`@lspo/<name>`, no deep paths);
// - no relative import leaves its package;
// - the pure libraries (model, algos, lspo) do no I/O: no fs, net, child_process, NATS or gRPC.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "..");
const PURE = new Set(["model", "algos", "lspo"]);
const IO_MODULES = /^(node:)?(fs|fs\/promises|net|dgram|http|https|http2|child_process|cluster|worker_threads)$|^@nats-io\/|^@grpc\//;

interface Pkg { dir: string; name: string; layer: "libs" | "services" }

function packages(): Pkg[] {
  return (["libs", "services"] as const).flatMap((layer) =>
    readdirSync(join(root, layer)).map((name) => ({ dir: join(root, layer, name), name, layer })),
  );
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return n === "node_modules" || n === "dist" ? [] : sourceFiles(p);
    return /\.(ts|mts)$/.test(n) && !n.endsWith(".d.ts") ? [p] : [];
  });
}

function imports(file: string): string[] {
  const src = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of src.matchAll(/(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)) {
    out.push(m[1] ?? m[2]);
  }
  return out;
}

const serviceNames = new Set(readdirSync(join(root, "services")));

describe("layering", () => {
  const pkgs = packages();
  it("finds the packages", () => {
    expect(pkgs.filter((p) => p.layer === "libs").map((p) => p.name).sort()).toEqual(
      ["actors", "algos", "bus", "config", "lspo", "model", "proto", "tasks", "telemetry"],
    );
  });

  for (const pkg of pkgs) {
    it(`${pkg.layer}/${pkg.name} - imports respect the layers`, () => {
      const problems: string[] = [];
      for (const file of sourceFiles(join(pkg.dir, "src"))) {
        const where = relative(root, file);
        for (const spec of imports(file)) {
          const lspo = /^@lspo\/([^/]+)(\/.*)?$/.exec(spec);
          if (lspo) {
            if (lspo[2]) problems.push(`${where}: deep import '${spec}' (use the public entry '@lspo/${lspo[1]}')`);
            if (pkg.layer === "libs" && serviceNames.has(lspo[1])) problems.push(`${where}: lib imports service '${spec}'`);
          }
          if (spec.startsWith(".")) {
            const target = resolve(dirname(file), spec);
            if (!target.startsWith(pkg.dir + "/")) problems.push(`${where}: relative import '${spec}' leaves the package`);
          }
          if (pkg.layer === "libs" && PURE.has(pkg.name) && IO_MODULES.test(spec)) {
            problems.push(`${where}: pure library imports I/O module '${spec}'`);
          }
        }
      }
      expect(problems).toEqual([]);
    });
  }
});
