// `npm run bench -- pretrain-sweep`: how the demo policy's size and batch shape trade held-out accuracy
// against CPU time, each variant being `lspo pretrain -c configs/demo-pretrain.yaml <overrides>` run as
// a child process (one ORT thread, so every accuracy is bit-reproducible; CPU seconds are the child's
// user + system time, less sensitive than wall time to the other work on a shared machine).
// Writes bench/results/pretrain-sweep.json; docs/DEMO.md quotes it. Takes ~10 minutes on 2 cores.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { startProvenance } from "@lspo/telemetry";
// Recorded from the start: a tree that changes while the benchmark runs makes the result "uncommitted".
const provenance = startProvenance({ ignore: /^bench\/results\// });

const VARIANTS: { name: string; overrides: string[] }[] = [
  { name: "demo (hidden 96, 4 layers, batch 64 x 500)", overrides: [] },
  { name: "hidden 64", overrides: ["model.model.hidden_size=64", "model.model.intermediate_size=172"] },
  { name: "hidden 128", overrides: ["model.model.hidden_size=128", "model.model.intermediate_size=344"] },
  { name: "3 layers", overrides: ["model.model.num_hidden_layers=3"] },
  { name: "batch 32 x 1000 steps", overrides: ["train.batchSize=32", "train.steps=1000"] },
  { name: "lr 6e-3", overrides: ["train.lr=6e-3"] },
];

const root = new URL("..", import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), "lspo-pretrain-sweep-"));
const results = [];
try {
  for (const v of VARIANTS) {
    const out = join(scratch, String(results.length));
    const load = loadavg()[0];
    const t0 = performance.now();
    const r = spawnSync("/usr/bin/time", ["-f", "%U %S", process.execPath, join(root, "scripts/lspo.mjs"), "pretrain", "-c", "configs/demo-pretrain.yaml", `out=${out}`, ...v.overrides], {
      cwd: root, encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`variant '${v.name}' failed: ${r.stderr}`);
    const [user, sys] = r.stderr.trim().split("\n").at(-1)!.split(" ").map(Number);
    const p = JSON.parse(readFileSync(join(out, "pretrain.json"), "utf8"));
    const row = {
      variant: v.name, overrides: v.overrides, parameters: p.parameters,
      held_out_accuracy: p.held_out.accuracy, by_level: Object.fromEntries(Object.entries(p.held_out.byLevel).map(([k, l]: [string, any]) => [k, l.accuracy])),
      mixed_groups: p.groups.mixed, sampled_accuracy: p.groups.sampledAccuracy, final_loss: p.loss.final,
      cpu_seconds: Math.round((user + sys) * 10) / 10, wall_seconds: Math.round((performance.now() - t0) / 100) / 10, load_average_at_start: load,
    };
    results.push(row);
    console.log(JSON.stringify(row));
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
const file = join(root, "bench/results/pretrain-sweep.json");
writeFileSync(file, `${JSON.stringify({
  provenance: provenance.finish(),
  command: "npm run bench -- pretrain-sweep", machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
  held_out_problems: 512, group_probe: "128 prompts x G=8 at temperature 1", results, created: new Date().toISOString(),
}, null, 2)}\n`);
console.log(`wrote ${file}`);
