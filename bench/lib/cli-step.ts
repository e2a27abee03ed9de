// One step of bench/model-scale.ts as its own process: `node <args>` (tsx, the `source` condition) under GNU
// time, which gives the step's wall time and its peak RSS (%M); the last stdout line, parsed as JSON when
// it is JSON, is the step's output. A step that fails throws with the end of its stderr.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";

export const root = join(import.meta.dirname, "../..");
export const tsx = createRequire(join(root, "package.json")).resolve("tsx");
export const CLI = join(root, "services/controller/src/cli.ts");

export interface Step {
  step: string;
  command: string;
  seconds: number;
  peakRssMiB: number;
  output: unknown;
}

/** The command as recorded: paths inside the repository relative to it. */
export const shown = (args: readonly string[]): string => args.map((a) => a.split(root + "/").join("")).join(" ");

export function timed(step: string, args: string[]): Step {
  const r = spawnSync("/usr/bin/time", ["-f", "%M %e", process.execPath, "--conditions=source", "--import", tsx, ...args], {
    cwd: root, encoding: "utf8", maxBuffer: 64 << 20,
  });
  const times = r.stderr.trim().split("\n").pop()!.split(" ");
  if (r.status !== 0) throw new Error(`${step} failed (${r.status}):\n${r.stderr.slice(-3000)}`);
  let output: unknown = r.stdout.trim().split("\n").pop();
  try {
    output = JSON.parse(output as string);
  } catch {
    /* plain text */
  }
  const s: Step = { step, command: shown(args), seconds: Number(times[1]), peakRssMiB: Math.round(Number(times[0]) / 1024), output };
  console.log(`${step}: ${s.seconds} s, peak RSS ${s.peakRssMiB} MiB`);
  return s;
}
