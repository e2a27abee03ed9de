// Issue 20: an attacker holding the rollout identity's credentials, on a rollout host of the namespace
// cluster, beside a training run whose every component has its own identity (support/attack-scenario.ts).
// Every attempt is denied or yields nothing: no client that wants the learner reaches the attacker's fake, a
// token it gets as a (fake) rollout actor is denied everywhere else, and the run completes with nothing lost
// and nothing trained twice. `npm run test:security` runs it with the rest of
// test/security; it is also part of `npm test` (vitest project `cluster`: after everything else, alone).
import { beforeAll, expect, it } from "vitest";
import { describeCluster } from "../cluster/support/skip.js";
import { runAttackScenario, type AttackReport } from "./support/attack-scenario.js";

describeCluster("security - the rollout identity attacks a running run", () => {
  let r: AttackReport;
  beforeAll(async () => {
    r = await runAttackScenario({ steps: 120 });
    process.stderr.write(`[attack] ${JSON.stringify(r)}\n`);
  }, 15 * 60_000);

  it("attack - the scenario ran to its end", () => {
    expect(r.failures).toEqual([]);
    expect(r.attacker).not.toBeNull();
  });

  it("attack - every attempt with the rollout identity's credentials is denied", () => {
    const outcomes = Object.fromEntries(r.attacker!.attempts.map((a) => [a.attempt, a.outcome]));
    // Records under the rollout identity's own keys are its to write; what they are worth is checked below.
    const own = ["register the fake as a learner under its own (rollout) keys", "register the fake as a rollout actor named like the learner"];
    for (const a of own) expect(outcomes[a], a).toBe("allowed");
    const replays = Object.keys(outcomes).filter((a) => a.startsWith("replay token"));
    const rest = Object.entries(outcomes).filter(([a]) => !own.includes(a) && !replays.includes(a));
    // Tokens a real client sent the fake (as a rollout actor it may be called by the controller) are worth
    // nothing elsewhere: each replay with this identity's certificate is denied.
    for (const a of replays) expect(outcomes[a], a).toBe("denied");
    expect(rest.map(([a]) => a)).toEqual([
      "overwrite the learner's registry record",
      "delete stream LSPO_BATCHES", "purge stream LSPO_PROMPTS", "delete the learner's consumer", "delete the sampler's consumer",
      "delete KV bucket lspo-sampler", "purge KV bucket lspo-actors (the registry)", "purge the weights object store", "delete the weights object store",
      "publish a weights version", "write a weights object", "publish a training batch", "pull from the learner's consumer",
      "SwapAlgorithm on the learner", "Checkpoint on the learner", "SwapAlgorithm on the learner without a token",
      "UpdateConfig on the sampler", "StartActors on the learner host's agent",
    ]);
    for (const [a, o] of rest) expect(o, a).toBe("denied");
  });

  it("attack - the operator reaches the real learner through the registry; its call to the fake fails in the handshake; the fake captures nothing", () => {
    expect(r.operatorSwap.code, `${r.operatorSwap.stdout}\n${r.operatorSwap.log}`).toBe(0);
    expect(JSON.parse(r.operatorSwap.stdout.trim().split("\n").pop()!)).toMatchObject({ pending: "gspo" });
    expect(r.operatorToFake.code).not.toBe(0);
    expect(r.operatorToFake.log).toMatch(/not 'learner'|holds identity 'rollout'/);
    // No client that wanted the learner reached the fake; what it did get are calls meant for rollout actors.
    expect(r.attacker!.captured.filter((c) => c.method.startsWith("/lspo.v1.LearnerService/"))).toEqual([]);
    expect(r.attacker!.captured.every((c) => c.method.startsWith("/lspo.v1.RolloutService/"))).toBe(true);
  });

  it("attack - the operator's read-only identity lists the run's actors, and the fake is not among the learners", () => {
    expect(r.operatorStatus.code, r.operatorStatus.stdout).toBe(0);
    const status = JSON.parse(r.operatorStatus.stdout);
    const actors: Array<{ name: string; kind: string; counters?: Record<string, unknown>; unreachable?: string }> = status.actors ?? status;
    expect(actors.filter((a) => a.kind === "learner").map((a) => a.name)).toEqual(["learner-0"]);
    // Each actor's counters came over mutual TLS, the server proving its kind's identity to the operator's client
    // before the Status call went out (a read: no token).
    for (const a of actors.filter((x) => ["learner", "sampler", "verifier"].includes(x.kind))) expect(a.unreachable, a.name).toBeUndefined();
    expect(actors.find((a) => a.kind === "learner")!.counters).toMatchObject({ step: expect.any(Number), algorithm: expect.any(String) });
  });

  it("attack - the run beside it completes with nothing lost and nothing trained twice", () => {
    expect(r.controllerExit).toBe(0);
    expect(r.result).toMatchObject({ lost: 0, duplicates: 0, restarts: 0 });
    // The learner, on its own host, put each checkpoint's sampler state in its object store, and the controller
    // copied it into its run dir: the newest keepCheckpoints (3) of them (step 120's manifest may come after the
    // run's end), none empty.
    expect(r.samplerCopies).toHaveLength(3);
    for (const c of r.samplerCopies) expect(c.name).toMatch(/^step-0001(1[4-9]|20)\.msgpack$/);
    for (const c of r.samplerCopies) expect(c.bytes, c.name).toBeGreaterThan(0);
  });
});
