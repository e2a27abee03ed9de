#!/usr/bin/env node
// `node bench/gpu/pack.mjs`: builds .gpu-kit/ (git-ignored), everything a GPU machine with the NVIDIA driver but
// no Node.js, no node_modules and no network needs to run bench/gpu/gpu-bench.ts through bench/gpu/run-on-device.sh:
//   node.tar.xz     this machine's node binary (bin/node)
//   ort.tar.xz      node_modules/onnxruntime-node pruned to linux-x64 + onnxruntime-common (what `import` loads)
//   debs/*.deb      the Vulkan loader and glvnd libraries WebGPU needs (`apt-get download`, unpacked there by dpkg -x)
//   gpu-bench.mjs   the benchmark bundled by esbuild with everything but onnxruntime-node inlined
//   MANIFEST.json   versions, sources and sizes
// `--bundle-only` rebuilds gpu-bench.mjs alone (seconds), keeping the rest of an existing kit: for source changes.
// The kit travels as a `carry` path of the device tool, whose limit is 64 MiB with the working tree, so the kit
// must stay under 60 MiB: this script fails if it does not.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { arch } from "node:os";
import { dirname, join } from "node:path";

const LIMIT_MIB = 60;
/** Debian packages of the Vulkan loader and glvnd (libEGL/libGL/libGLX/libOpenGL/libGLES dispatchers). */
const DEBS = ["libvulkan1", "libegl1", "libglvnd0", "libopengl0", "libgl1", "libglx0", "libgles2"];

const root = new URL("../..", import.meta.url).pathname;
const kit = join(root, ".gpu-kit");
const stage = join(kit, ".stage");
const requireFromModel = createRequire(join(root, "libs/model/package.json"));

function fail(msg) {
  console.error(`pack: ${msg}`);
  process.exit(1);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...opts });
  if (r.status !== 0) fail(`${cmd} ${args.join(" ")} failed (${r.status ?? r.error?.message}): ${(r.stderr ?? "").trim().split("\n").slice(-5).join(" | ")}`);
  return r.stdout;
}

/** tar + xz at low priority (other work shares this machine); -6 is xz's default ratio/time trade. */
function tarXz(out, cwd, paths) {
  run("nice", ["-n", "19", "tar", "-cJf", out, "-C", cwd, ...paths], { env: { ...process.env, XZ_OPT: "-6 -T2" } });
}

function sizeOf(p) {
  const s = statSync(p);
  return s.isDirectory() ? readdirSync(p).reduce((a, f) => a + sizeOf(join(p, f)), 0) : s.size;
}

/** Steps 1-3: node, onnxruntime-node, debs (a minute or so: xz). */
function packRuntime(manifest) {

  // 1. Node.js: the running binary, as bin/node.
  const nodeBin = realpathSync(process.execPath);
  cpSync(nodeBin, join(stage, "bin/node"));
  tarXz(join(kit, "node.tar.xz"), stage, ["bin/node"]);
  manifest.node = { version: process.version, from: nodeBin };
  console.log(`node ${process.version}: ${mib(statSync(join(kit, "node.tar.xz")).size)} compressed`);

  // 2. onnxruntime-node for linux-x64 only, and onnxruntime-common (its one runtime dependency that import loads;
  //    adm-zip and global-agent serve only its install script).
  const ortDir = dirname(dirname(requireFromModel.resolve("onnxruntime-node")));
  const commonDir = dirname(dirname(dirname(createRequire(join(ortDir, "package.json")).resolve("onnxruntime-common"))));
  const ortVersion = JSON.parse(readFileSync(join(ortDir, "package.json"), "utf8")).version;
  const nm = join(stage, "node_modules");
  const noMaps = (src) => !src.endsWith(".map") && !src.endsWith(".d.ts");
  const nativeDir = "bin/napi-v6/linux/x64";
  if (!existsSync(join(ortDir, nativeDir, "onnxruntime_binding.node"))) fail(`${join(ortDir, nativeDir)} lacks onnxruntime_binding.node`);
  for (const f of ["package.json", "dist", nativeDir]) cpSync(join(ortDir, f), join(nm, "onnxruntime-node", f), { recursive: true, filter: noMaps });
  for (const f of ["package.json", "dist"]) cpSync(join(commonDir, f), join(nm, "onnxruntime-common", f), { recursive: true, filter: noMaps });
  console.log(`onnxruntime-node ${ortVersion} pruned to linux-x64: ${mib(sizeOf(nm))} uncompressed`);
  tarXz(join(kit, "ort.tar.xz"), stage, ["node_modules"]);
  manifest.onnxruntime = { version: ortVersion, from: ortDir, kept: nativeDir };
  console.log(`  ${mib(statSync(join(kit, "ort.tar.xz")).size)} compressed`);

  // 3. The Vulkan loader and glvnd packages, for amd64 (the device machine's architecture).
  mkdirSync(join(kit, "debs"));
  const dl = spawnSync("apt-get", ["download", ...DEBS.map((d) => `${d}:amd64`)], { cwd: join(kit, "debs"), encoding: "utf8" });
  if (dl.status !== 0) fail(`apt-get download ${DEBS.join(" ")} failed: ${(dl.stderr ?? dl.error?.message ?? "").trim()} (run \`apt-get update\` first?)`);
  manifest.debs = readdirSync(join(kit, "debs")).sort();
  for (const d of DEBS) if (!manifest.debs.some((f) => f.startsWith(`${d}_`))) fail(`apt-get download did not produce ${d}_*.deb (got ${manifest.debs.join(", ")})`);
  console.log(`debs: ${manifest.debs.join(" ")} (${mib(sizeOf(join(kit, "debs")))})`);
}

const mib = (n) => `${(n / 2 ** 20).toFixed(1)} MiB`;

if (process.platform !== "linux" || arch() !== "x64") fail(`the kit carries this machine's node binary, and the GPU machines are linux-x64; this is ${process.platform}-${arch()}`);
const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== "--bundle-only");
if (unknown.length) fail(`unknown argument '${unknown[0]}'; usage: node bench/gpu/pack.mjs [--bundle-only]`);
const bundleOnly = args.includes("--bundle-only");
let manifest;
if (bundleOnly) {
  const m = join(kit, "MANIFEST.json");
  if (!existsSync(m)) fail(`--bundle-only needs an existing kit (${m} missing): run without it first`);
  manifest = JSON.parse(readFileSync(m, "utf8"));
  if (manifest.node?.version !== process.version) fail(`the kit carries node ${manifest.node?.version}, this is ${process.version}: run without --bundle-only`);
  const ortNow = JSON.parse(readFileSync(join(dirname(dirname(requireFromModel.resolve("onnxruntime-node"))), "package.json"), "utf8")).version;
  if (manifest.onnxruntime?.version !== ortNow) fail(`the kit carries onnxruntime-node ${manifest.onnxruntime?.version}, node_modules has ${ortNow}: run without --bundle-only`);
  manifest.files = {};
} else {
  rmSync(kit, { recursive: true, force: true });
  mkdirSync(join(stage, "bin"), { recursive: true });
  manifest = { files: {} };
  packRuntime(manifest);
}
manifest.built = new Date().toISOString();

// 4. The benchmark as one ESM file; onnxruntime-node stays external (its native binding is found relative to
//    its own files). Workspace packages resolve to their TypeScript sources through the `source` condition.
const esbuild = createRequire(join(root, "package.json"))("esbuild");
const built = await esbuild.build({
  entryPoints: [join(root, "bench/gpu/gpu-bench.ts")],
  outfile: join(kit, "gpu-bench.mjs"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  conditions: ["source"],
  external: ["onnxruntime-node"],
  // CommonJS dependencies inlined into an ES module still call require() for Node built-ins.
  banner: { js: 'import { createRequire as __lspoCreateRequire } from "node:module"; const require = __lspoCreateRequire(import.meta.url);' },
  logLevel: "warning",
  metafile: true,
});
const inputs = Object.keys(built.metafile.inputs);
if (inputs.some((i) => i.includes("onnxruntime-node/"))) fail("onnxruntime-node got bundled; it must stay external");
manifest.bundle = { esbuild: esbuild.version, inputs: inputs.length, bytes: statSync(join(kit, "gpu-bench.mjs")).size };
console.log(`gpu-bench.mjs: ${inputs.length} inputs, ${mib(manifest.bundle.bytes)}`);

rmSync(stage, { recursive: true, force: true });
for (const f of readdirSync(kit)) if (f !== "MANIFEST.json") manifest.files[f] = sizeOf(join(kit, f));
const total = Object.values(manifest.files).reduce((a, b) => a + b, 0);
manifest.totalBytes = total;
writeFileSync(join(kit, "MANIFEST.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log(`.gpu-kit: ${mib(total)} in all (limit ${LIMIT_MIB} MiB)`);
if (total > LIMIT_MIB * 2 ** 20) fail(`.gpu-kit is ${mib(total)}, over the ${LIMIT_MIB} MiB a device call can carry beside the working tree`);
