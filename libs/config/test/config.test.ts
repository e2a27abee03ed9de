import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfigFile, resolveConfig } from "@lspo/config";

describe("config - defaults, overrides and errors", () => {
  it("fills every default from an empty config", () => {
    const c = resolveConfig({});
    expect(c.rollout.groupSize).toBe(8);
    expect(c.sampler).toMatchObject({ lLow: 0.3, lHigh: 0.65, lMax: 0.95, mode: "stream" });
    expect(c.learner.algorithm).toEqual({ name: "dapo", overrides: {} });
  });

  it("applies typed key=value overrides over a YAML file", () => {
    const dir = mkdtempSync(join(tmpdir(), "lspo-cfg-"));
    const file = join(dir, "c.yaml");
    writeFileSync(file, "run:\n  name: smoke\n  steps: 3\nrollout:\n  actors: 2\n");
    const c = loadConfigFile(file, ["rollout.actors=4", "sampler.lengthFilter=false", "learner.algorithm.name=gspo", "learner.algorithm.overrides.clip_low=0.001"]);
    expect(c.run).toMatchObject({ name: "smoke", steps: 3 });
    expect(c.rollout.actors).toBe(4);
    expect(c.sampler.lengthFilter).toBe(false);
    expect(c.learner.algorithm).toEqual({ name: "gspo", overrides: { clip_low: 0.001 } });
  });

  it("refuses a sampler snapshot period longer than half its ack wait, naming both", () => {
    expect(() => resolveConfig({ sampler: { ackWaitMs: 4000, snapshotEveryMs: 3000 } })).toThrow(/sampler\.snapshotEveryMs must be at most half of sampler\.ackWaitMs/);
    expect(resolveConfig({ sampler: { ackWaitMs: 4000, snapshotEveryMs: 2000 } }).sampler.snapshotEveryMs).toBe(2000);
  });

  it("rollout.actors 0 (one per agent slot) needs remote agents; verifier.actors 0 means verifiers of their own", () => {
    expect(() => resolveConfig({}, ["rollout.actors=0"])).toThrow(/rollout\.actors 0 \(one per agent slot\) needs cluster\.agents "remote"/);
    const c = resolveConfig({}, ["rollout.actors=0", "cluster.agents=remote", "verifier.actors=0"]);
    expect([c.rollout.actors, c.verifier.actors]).toEqual([0, 0]);
  });

  it("run.maxOffPolicySteps: unset, 0 in sync mode (on-policy) and 1 pipelined; a given value wins in either", () => {
    expect(resolveConfig({}).run).toMatchObject({ mode: "sync", maxOffPolicySteps: 0 });
    expect(resolveConfig({}, ["run.mode=pipelined"]).run.maxOffPolicySteps).toBe(1);
    expect(resolveConfig({ run: { mode: "sync", maxOffPolicySteps: 2 } }).run.maxOffPolicySteps).toBe(2);
    expect(resolveConfig({}, ["run.mode=pipelined", "run.maxOffPolicySteps=0"]).run.maxOffPolicySteps).toBe(0);
    // The resolved config (what an agent hands its actors) resolves to itself.
    const pipelined = resolveConfig({}, ["run.mode=pipelined"]);
    expect(resolveConfig(JSON.parse(JSON.stringify(pipelined)))).toEqual(pipelined);
    expect(() => resolveConfig({}, ["run.maxOffPolicySteps=-1"])).toThrow(/run\.maxOffPolicySteps: /);
    expect(() => resolveConfig({}, ["run.maxOffPolicyStep=1"])).toThrow(/unknown key 'maxOffPolicyStep'; valid keys under run: name, seed, mode/);
  });

  it("names an unknown key and lists the valid ones", () => {
    expect(() => resolveConfig({ rollout: { actor: 2 } })).toThrow(/unknown key rollout\.actor; valid keys under rollout: actors, groupSize/);
    expect(() => resolveConfig({}, ["rollout.actor=2"])).toThrow(/override rollout\.actor: unknown key 'actor'; valid keys under rollout: actors/);
    expect(() => resolveConfig({ rollouts: {} })).toThrow(/unknown key rollouts; valid keys: run, nats/);
  });

  it("names a bad value and the allowed values", () => {
    expect(() => resolveConfig({ sampler: { mode: "window" } })).toThrow(/sampler\.mode: .*allowed values: stream, batch/);
    expect(() => resolveConfig({}, ["rollout.groupSize=-1"])).toThrow(/rollout\.groupSize: .*0/);
    expect(() => resolveConfig({ run: { name: "a b" } })).toThrow(/run\.name: letters, digits/);
    expect(() => resolveConfig({}, ["novalue"])).toThrow(ConfigError);
    expect(() => resolveConfig([])).toThrow(/top level must be a mapping/);
  });

  it("task.verifier: strict extraction and a 1e-6 float tolerance by default; a bad mode names the valid ones", () => {
    expect(resolveConfig({}).task.verifier).toEqual({ extract: "strict", floatTolerance: 1e-6 });
    expect(resolveConfig({}, ["task.verifier.extract=lenient"]).task.verifier.extract).toBe("lenient");
    expect(() => resolveConfig({ task: { verifier: { extract: "loose" } } })).toThrow(/task\.verifier\.extract: .*allowed values: strict, lenient/);
    expect(() => resolveConfig({ task: { verifier: { floatTolerance: -1 } } })).toThrow(/task\.verifier\.floatTolerance/);
  });

  it("reports unreadable and malformed files by path", () => {
    expect(() => loadConfigFile("/nonexistent/x.yaml")).toThrow(/cannot read config file \/nonexistent\/x\.yaml/);
    const dir = mkdtempSync(join(tmpdir(), "lspo-cfg-"));
    writeFileSync(join(dir, "bad.yaml"), "run: [unclosed\n");
    expect(() => loadConfigFile(join(dir, "bad.yaml"))).toThrow(/bad\.yaml: not valid YAML/);
  });
});
