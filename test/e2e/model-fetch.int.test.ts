// A rollout host without the controller's files: `lspo serve rollout` is given model.dir as the controller's
// path, which does not exist on its host, fetches the run's model from NATS (published as the controller
// does) into LSPO_STATE_DIR, checks the digests, loads the policy from the copy and registers. Real process,
// real NATS.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActorRegistry } from "@lspo/actors";
import { publishModelDir, startLocalBus, type LocalBus } from "@lspo/bus";
import { resolveConfig } from "@lspo/config";
import { createModelFromSpec } from "@lspo/model";
import { ComponentState } from "@lspo/proto";
import { writeModelDir } from "@lspo/tasks";

const root = resolve(import.meta.dirname, "../..");
const tsx = createRequire(import.meta.url).resolve("tsx");
const cli = join(root, "services/controller/src/cli.ts");
let bus: LocalBus;
beforeAll(async () => {
  bus = await startLocalBus({ streams: true });
});
afterAll(() => bus?.stop());

describe("model files - a host without model.dir", { timeout: 120_000 }, () => {
  it("fetches the run's model from NATS into its state dir and serves from the copy", async () => {
    const controllerDir = join(mkdtempSync(join(tmpdir(), "lspo-ctl-")), "base-model");
    writeModelDir(controllerDir, createModelFromSpec({ seed: 1, model: { model_type: "llama", hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 64, tie_word_embeddings: true } }));
    await publishModelDir(bus.nc, "farhost", controllerDir);
    const stateDir = mkdtempSync(join(tmpdir(), "lspo-rollout-host-"));
    // The controller's path as this host sees it: nothing there.
    const config = resolveConfig({ run: { name: "farhost", dir: "/nonexistent/controller/run" }, nats: { url: bus.server.url }, model: { dir: "/nonexistent/controller/run/base-model" } });
    const p = spawn(process.execPath, ["--conditions=source", "--import", tsx, cli, "serve", "rollout"], {
      env: { ...process.env, LSPO_ACTOR_CONFIG: JSON.stringify(config), LSPO_ACTOR_NAME: "rollout-farhost", LSPO_STATE_DIR: stateDir, LSPO_THREADS: "1" },
      stdio: ["ignore", openSync(join(stateDir, "out.log"), "a"), openSync(join(stateDir, "err.log"), "a")],
    });
    try {
      const registry = await ActorRegistry.open(bus.nc, { runId: "farhost" });
      const end = Date.now() + 90_000;
      let up = false;
      while (!up && Date.now() < end && p.exitCode === null) {
        up = (await registry.listActors()).some((a) => a.name === "rollout-farhost" && a.state === ComponentState.COMPONENT_STATE_RUNNING);
        if (!up) await new Promise((r) => setTimeout(r, 200));
      }
      expect(up, readFileSync(join(stateDir, "err.log"), "utf8") + readFileSync(join(stateDir, "out.log"), "utf8").slice(-2000)).toBe(true);
      const copy = join(stateDir, "lspo-models", "farhost");
      for (const f of ["config.json", "tokenizer.json", "model.safetensors"]) {
        expect(readFileSync(join(copy, f)).equals(readFileSync(join(controllerDir, f))), f).toBe(true);
      }
      expect(readFileSync(join(stateDir, "out.log"), "utf8") + readFileSync(join(stateDir, "err.log"), "utf8")).toContain(copy); // "policy loaded" names the copy
      expect(existsSync("/nonexistent/controller/run")).toBe(false);
    } finally {
      p.kill("SIGTERM");
      await new Promise<void>((r) => (p.exitCode !== null ? r() : p.once("exit", () => r())));
    }
  });
});
