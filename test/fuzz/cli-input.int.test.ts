// Bad input through the command line: config keys and values, flags, config files, model directories and
// datasets. Every one fails before anything starts (no actor, no run directory or an empty one), exits
// non-zero, and says what was wrong: the key and the allowed keys or values, the flag, the file and row.
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");
const smoke = join(root, "configs/smoke.yaml");
const scratch = mkdtempSync(join(tmpdir(), "lspo-cli-input-"));
const shippedModel = join(root, "configs/models/demo-base");

function lspo(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(root, "scripts/lspo.mjs"), ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b) => (out += b));
    child.stderr.on("data", (b) => (out += b));
    child.once("exit", (code) => done({ code: code ?? -1, out }));
  });
}

/** A copy of the shipped model directory, damaged by `edit`. */
function damagedModel(name: string, edit: (dir: string) => void): string {
  const dir = join(scratch, name);
  cpSync(shippedModel, dir, { recursive: true });
  edit(dir);
  return dir;
}
const unknownArchitecture = () =>
  damagedModel("mistral", (dir) => {
    const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    writeFileSync(join(dir, "config.json"), JSON.stringify({ ...cfg, model_type: "mistral" }));
  });
const noTokenizer = () => damagedModel("no-tokenizer", (dir) => rmSync(join(dir, "tokenizer.json")));

describe("bad input - CLI flags, config, model directories and datasets", { timeout: 120_000 }, () => {
  it("each fails before anything starts and names what was wrong", async () => {
    const badYaml = join(scratch, "bad.yaml");
    writeFileSync(badYaml, "run:\n  steps: [1,\n");
    const dataset = join(scratch, "broken.jsonl");
    writeFileSync(dataset, `${JSON.stringify({ question: "1+1", answer: "#### 2" })}\n{"question": "2+2", "answer": \n`);
    const runDir = (n: string) => join(scratch, `run-${n}`);
    const train = (n: string, ...more: string[]) => ["train", "-c", smoke, `run.dir=${runDir(n)}`, ...more];
    const cases: Array<{ name: string; args: string[]; says: RegExp[]; runDir?: string }> = [
      { name: "unknown key", args: train("key", "rollout.actorz=2"), says: [/rollout\.actorz/, /valid keys under rollout: actors, groupSize/], runDir: runDir("key") },
      { name: "value outside the allowed ones", args: train("value", "sampler.mode=fast"), says: [/sampler\.mode/, /allowed values: stream, batch/], runDir: runDir("value") },
      { name: "wrong type", args: train("type", "rollout.actors=two"), says: [/rollout\.actors/, /expected number/i], runDir: runDir("type") },
      { name: "out of range", args: train("range", "sampler.lLow=1.5"), says: [/sampler\.lLow/, /<=\s*1/], runDir: runDir("range") },
      { name: "unknown section", args: train("section", "optimizer.lr=1"), says: [/optimizer/, /valid keys: run, nats, security/], runDir: runDir("section") },
      { name: "credentials in nats.url", args: train("url", "nats.url=nats://lspo:hunter2@127.0.0.1:4222"), says: [/nats\.url/, /passwordFile/], runDir: runDir("url") },
      { name: "unknown flag", args: ["train", "-c", smoke, "--bogus"], says: [/--bogus/] },
      { name: "positional that is not key=value", args: ["train", "-c", smoke, "steps"], says: [/'steps'/, /key=value/] },
      { name: "missing config file", args: ["train", "-c", join(scratch, "nope.yaml")], says: [/nope\.yaml/] },
      { name: "config file that is not YAML", args: ["train", "-c", badYaml], says: [/bad\.yaml/, /not valid YAML/] },
      { name: "missing model directory", args: train("model", `model.dir=${join(scratch, "no-model")}`), says: [/model\.dir/, /no-model/, /config\.json/] },
      { name: "malformed dataset row", args: train("data", "task.kind=dataset", `task.dataset={path: ${dataset}, schema: gsm8k}`), says: [/broken\.jsonl/, /row 2/, /invalid JSON/] },
      { name: "unknown service", args: ["serve", "trainer"], says: [/unknown service 'trainer'/, /rollout, verifier, sampler, learner/] },
      { name: "service with a bad config key", args: ["serve", "learner", "--config", smoke, "learner.lr=-1"], says: [/learner\.lr/] },
      { name: "unknown command", args: ["trian"], says: [/unknown command 'trian'/, /train/] },
      { name: "status: unknown flag", args: ["status", "--nats-url", "x"], says: [/--nats-url/] },
      { name: "unknown architecture", args: train("arch", `model.dir=${unknownArchitecture()}`), says: [/mistral\/config\.json/, /model_type "mistral" is not supported \(supported: llama, qwen2, qwen3\)/] },
      { name: "model without its tokenizer", args: train("tok", `model.dir=${noTokenizer()}`), says: [/no-tokenizer/, /tokenizer\.json is missing/] },
    ];
    const results = await Promise.all(cases.map((c) => lspo(c.args)));
    cases.forEach((c, i) => {
      const r = results[i];
      expect(r.code, `${c.name}: exit code\n${r.out}`).not.toBe(0);
      for (const re of c.says) expect(r.out, `${c.name}: says ${re}`).toMatch(re);
      // Nothing started: no run directory for a bad config; for a bad model or dataset, no actor ever ran.
      if (c.runDir) expect(existsSync(c.runDir), `${c.name}: run directory created`).toBe(false);
      expect(existsSync(join(runDir(c.name), "logs")), `${c.name}: actor logs`).toBe(false);
    });
    for (const n of ["model", "data", "arch", "tok"]) expect(existsSync(join(runDir(n), "logs")), `${n}: no actor started`).toBe(false);
    console.log(JSON.stringify({ scenario: "cli-input", cases: cases.map((c, i) => ({ case: c.name, exit: results[i].code, said: results[i].out.trim().split("\n").pop()!.slice(0, 300) })) }));
  });
});
