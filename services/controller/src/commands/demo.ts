// `lspo demo` (what `npm run demo` runs): DAPO + LSPO on the synthetic task from the shipped demo policy,
// with a progress bar, then a short report and `report.html` in the run directory. Its summary.json
// carries the run's provenance (commit, clean tree, machine, load), so a kept demo run can be quoted as an
// artifact (docs/results/README.md).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadConfigFile } from "@lspo/config";
import { startProvenance } from "@lspo/telemetry";
import { train } from "../run/controller.js";
import { writeReport } from "../run/report.js";

export const summary = "the demo: train the demo policy with DAPO + LSPO and report held-out accuracy before -> after";

const root = resolve(new URL("../../../..", import.meta.url).pathname);

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { config: { type: "string", short: "c" }, "run-dir": { type: "string" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    console.log("usage: lspo demo [-c configs/demo.yaml] [--run-dir <dir>] [key=value ...]");
    return 0;
  }
  const file = values.config ?? join(root, "configs/demo.yaml");
  const overrides = [...positionals, ...(values["run-dir"] ? [`run.dir=${values["run-dir"]}`] : [])];
  const config = loadConfigFile(file, overrides);
  const modelDir = resolve(root, config.model.dir);
  if (!existsSync(join(modelDir, "config.json"))) {
    // The base checkpoint ships in the repository; rebuild it (a few minutes) if it was removed.
    process.stderr.write(`demo: ${modelDir} is missing; building it with lspo pretrain -c configs/demo-pretrain.yaml\n`);
    const pretrain = await import("./pretrain.js");
    const code = await pretrain.run(["-c", join(root, "configs/demo-pretrain.yaml"), `out=${modelDir}`]);
    if (code !== 0) return code;
  }
  config.model.dir = modelDir;
  process.stderr.write(`demo: ${config.rollout.actors} rollout actors, ${config.learner.algorithm.name} + LSPO (stream, W=${config.sampler.window}), ${config.run.steps} steps\n`);
  // A run directory inside the checkout (runs/ is ignored by git; --run-dir may be elsewhere) is the run's
  // own output, not a change to the measured tree.
  const runDirRel = config.run.dir ? relative(root, resolve(config.run.dir)) : "";
  const inTree = runDirRel !== "" && !runDirRel.startsWith("..");
  const provenance = startProvenance({
    cwd: root,
    command: ["lspo", "demo", ...argv],
    ignore: inTree ? new RegExp(`^${runDirRel.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/`) : undefined,
  });
  const s = await train(config);
  const summaryFile = join(s.dir, "summary.json");
  const measured = provenance.finish();
  writeFileSync(summaryFile, JSON.stringify({ ...JSON.parse(readFileSync(summaryFile, "utf8")), provenance: measured }, null, 1));
  const report = writeReport(s.dir, s);
  console.log(["", ...report.lines, `measured ${measured.label}`, `report: ${report.html}`, `summary: ${summaryFile}`].join("\n"));
  return s.lost === 0 && s.duplicates === 0 ? 0 : 1;
}
