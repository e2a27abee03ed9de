// `npm run test:cluster -- [--rollout-hosts N] [--report <file>] [--steps N] [--no-second-run] [--keep]`:
// one training run across a cluster of network-namespace hosts with issue 14's faults, then the JSON
// report (stdout, and --report <file>). Exit 0 only when it passed; 2 when the machine cannot build a
// cluster (the reason is printed); 1 otherwise.
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { cleanupOnUncaught } from "./support/cleanup.js";
import { clusterPreflight } from "./support/preflight.js";
import { runClusterTraining } from "./support/training-run.js";

const USAGE = "usage: npm run test:cluster -- [--rollout-hosts N (default 2)] [--report <file>] [--steps N (default 300)] [--no-second-run] [--keep (host dirs and logs)]";

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      "rollout-hosts": { type: "string", default: "2" },
      report: { type: "string" },
      steps: { type: "string", default: "300" },
      "no-second-run": { type: "boolean" },
      keep: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) return (console.log(USAGE), 0);
  const pre = clusterPreflight();
  if (!pre.ok) {
    console.error(`test:cluster cannot run here: ${pre.reason}`);
    return 2;
  }
  cleanupOnUncaught();
  const report = await runClusterTraining({
    rolloutHosts: Number(values["rollout-hosts"]),
    steps: Number(values.steps),
    secondRun: !values["no-second-run"],
    keepDirs: values.keep,
  });
  const json = JSON.stringify(report, null, 2);
  if (values.report) writeFileSync(values.report, json + "\n");
  console.log(json);
  for (const f of report.failures) console.error(`FAILED: ${f}`);
  for (const p of report.pending) console.error(`PENDING: ${p}`);
  console.error(report.passed ? "test:cluster passed" : `test:cluster did not pass (${report.failures.length} failed, ${report.pending.length} pending)`);
  return report.passed ? 0 : 1;
}

main().then((code) => process.exit(code));
