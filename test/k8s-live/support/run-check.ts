// The integration tests' way to run the live check: the CLI itself (as `npm run test:k8s-live` runs it),
// its report read back. One check at a time (the cluster project runs files one by one).
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const repoRoot = resolve(new URL("../../..", import.meta.url).pathname);

export interface CheckRun {
  code: number | null;
  stderr: string;
  report: any;
}

export const REPO_ROOT = repoRoot;

/** Writes `files` (name -> content) into a temp dir (then `prepare(dir)`), replaces `{dir}` in args with
 *  it, runs the check. */
export async function runCheck(args: string[], files: Record<string, string> = {}, prepare?: (dir: string) => void): Promise<CheckRun> {
  const dir = mkdtempSync(join(tmpdir(), "lspo-k8s-live-test-"));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    prepare?.(dir);
    const report = join(dir, "report.json");
    const argv = ["--conditions=source", "--import", "tsx", join(repoRoot, "test/k8s-live/run.ts"), ...args.map((a) => a.replaceAll("{dir}", dir)), "--report", report];
    const child = spawn(process.execPath, argv, { cwd: repoRoot, stdio: ["ignore", "inherit", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      process.stderr.write(d);
    });
    const code = await new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
    let parsed: any = undefined;
    try {
      parsed = JSON.parse(readFileSync(report, "utf8"));
    } catch {
      /* no report: the assertion on it says so */
    }
    return { code, stderr, report: parsed };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
