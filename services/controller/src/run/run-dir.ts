// The run directory: everything a run leaves behind (resolved config, metrics.jsonl, checkpoints, logs,
// summary.json, report) and, while it runs, `run.json` saying how to reach it (`lspo status` reads it).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse as parseYaml, stringify } from "yaml";
import { resolveConfig, type RunConfig } from "@lspo/config";

export interface RunInfo {
  runId: string;
  natsUrl: string;
  pid: number;
  startedAt: string;
  /** The embedded nats-server's pid (a run without `nats.url`): what a resume stops if it outlived its controller. */
  natsPid?: number;
}

export function createRunDir(config: RunConfig): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "");
  const dir = resolve(config.run.dir || join("runs", `${config.run.name}-${stamp}`));
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function saveRunConfig(dir: string, config: RunConfig): void {
  writeFileSync(join(dir, "config.yaml"), stringify(config));
}

/** The config a run was started with, for `--resume` (overrides given on resume apply on top). */
export function loadRunConfig(dir: string, overrides: string[]): RunConfig {
  const path = join(dir, "config.yaml");
  if (!existsSync(path)) throw new Error(`--resume ${dir}: no config.yaml there (not a run directory)`);
  return resolveConfig(parseYaml(readFileSync(path, "utf8")), overrides, path);
}

export function writeRunInfo(dir: string, info: RunInfo): void {
  writeFileSync(join(dir, "run.json"), JSON.stringify(info, null, 1));
}

export function readRunInfo(dir: string): RunInfo {
  return JSON.parse(readFileSync(join(dir, "run.json"), "utf8")) as RunInfo;
}
