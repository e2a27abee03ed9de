// `lspo --help` is the first command a new user runs: it must list every command with what it does.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../../..");
const lspo = (...args: string[]) => spawnSync(process.execPath, [join(root, "scripts/lspo.mjs"), ...args], { cwd: root, encoding: "utf8" });

describe("lspo --help", () => {
  it("prints every command module with its one-line summary", () => {
    const r = lspo("--help");
    expect(r.status).toBe(0);
    const modules = readdirSync(join(root, "services/controller/src/commands")).map((f) => f.replace(/\.ts$/, ""));
    // model-verify and model-generate are subcommands of `model`, not commands of their own.
    const commands = modules.filter((m) => !["model-verify", "model-generate"].includes(m));
    for (const name of commands) expect(r.stdout).toMatch(new RegExp(`^  ${name} +\\S.{10,}$`, "m"));
  });

  it("with no command, prints the same list on stderr and exits 2", () => {
    const r = lspo();
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^ {2}train +run RL training/m);
  });
});
