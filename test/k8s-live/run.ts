// `npm run test:k8s-live -- --overlay <name> --nodes N --report <file>`: renders an overlay and runs it on a
// cluster of network namespaces (README.md). Exit 0: the run completed; 1: it failed; 2: no cluster here.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { startProvenance } from "@lspo/telemetry";
import { join, resolve } from "node:path";
import { cleanupOnUncaught } from "../cluster/support/cleanup.js";
import { byKind, namespaceOf } from "./support/manifests.js";
import { USAGE, parseOptions, splitKv } from "./support/options.js";
import { livePreflight } from "./support/preflight.js";
import { overlayDir, renderWithOptions } from "./support/render.js";
import { makeSecrets } from "./support/secrets.js";
import { runLive } from "./support/live.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";

const repoRoot = resolve(new URL("../..", import.meta.url).pathname);
const log = (msg: string) => process.stderr.write(`[k8s-live] ${msg}\n`);

function natsServerPath(): string {
  if (process.env.LSPO_NATS_SERVER && existsSync(process.env.LSPO_NATS_SERVER)) return process.env.LSPO_NATS_SERVER;
  const r = spawnSync("sh", ["-c", "command -v nats-server"], { encoding: "utf8" });
  if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  if (existsSync("/usr/sbin/nats-server")) return "/usr/sbin/nats-server";
  throw new Error("nats-server not found (scripts/bootstrap.mjs installs it)");
}

async function main(): Promise<number> {
  if (process.argv.includes("--help") || process.argv.includes("-h")) return (process.stdout.write(USAGE + "\n"), 0);
  let opts;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (e) {
    log((e as Error).message);
    return 2;
  }
  // Which code ran, on what: a report committed as a result says "at commit X" only for a clean tree.
  const provenance = startProvenance({ cwd: repoRoot, ignore: /^docs\/results\// });
  const report = (body: Record<string, unknown>) => {
    if (!opts.report) return;
    mkdirSync(resolve(opts.report, ".."), { recursive: true });
    writeFileSync(opts.report, JSON.stringify({ ...body, provenance: provenance.finish() }, null, 2) + "\n");
  };
  const pre = livePreflight();
  if (!pre.ok) {
    log(`cannot build the cluster: ${pre.reason}`);
    report({ overlay: opts.overlay, error: pre.reason, networkPoliciesEnforced: false, run: { completed: false } });
    return 2;
  }
  cleanupOnUncaught();
  const work = mkdtempSync(join(tmpdir(), "lspo-k8s-live-render-"));
  let customized: string[] = [];
  try {
    const dir = overlayDir(repoRoot, opts.overlay);
    const rendered = renderWithOptions(dir, work, opts);
    customized = [...rendered.customized, ...opts.pvc.map((p) => `pvc ${p} (static PV with a copy of the directory)`)];
    const namespaces = byKind(rendered.resources, "Namespace").map((n) => n.metadata.name);
    const ns = namespaces[0] ?? namespaceOf(rendered.resources.find((r) => r.kind === "Job")!);
    const secrets = makeSecrets(repoRoot, join(work, "secrets"), ns);
    log(`rendered ${opts.overlay}: ${rendered.resources.length} objects; ${secrets.length} Secrets from deploy/make-secrets.sh${customized.length ? `; customized: ${customized.join("; ")}` : ""}`);
    const result = await runLive({
      repoRoot,
      natsServer: natsServerPath(),
      resources: [...rendered.resources, ...secrets],
      nodes: opts.nodes,
      gpusPerNode: opts.gpusPerNode,
      pvc: new Map(opts.pvc.map(splitKv).map(([k, v]) => [k, resolve(v)])),
      timeoutS: opts.timeoutS,
      keep: opts.keep,
      log,
    });
    report({ overlay: opts.overlay, nodes: result.nodes, pods: result.pods, networkPoliciesEnforced: true, customized, run: result.run, ...(result.actors ? { actors: result.actors } : {}), ...(result.error ? { error: result.error } : {}), ...(opts.keep || result.error ? { dir: result.tmpDir } : {}) });
    if (result.error) {
      log(`FAILED: ${result.error}`);
      return 1;
    }
    log(`run completed: ${JSON.stringify(result.run)}`);
    return 0;
  } catch (e) {
    const msg = (e as Error).message;
    log(`FAILED: ${msg}`);
    report({ overlay: opts.overlay, customized, networkPoliciesEnforced: false, run: { completed: false }, error: msg });
    return 1;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code));
