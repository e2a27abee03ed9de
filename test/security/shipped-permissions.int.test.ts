// The NATS identities and permissions we ship (deploy/nats/accounts.conf) against the real services: a
// whole run where the controller and each kind of actor connect as their own user (rollout, verifier,
// sampler, learner, controller) must do its whole job within its permissions, and a component's user
// still cannot publish outside its subjects. (test/k8s/nats-permissions.test.ts checks the same
// permissions with hand-made clients; this checks them against what the services actually do.)
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { afterAll, describe, expect, it } from "vitest";
import { jetstream, subjectFor } from "@lspo/bus";
import { train, type RunningRun } from "@lspo/controller";
import { startShippedNats, USERS, type ShippedNats } from "../k8s/support/nats-server.js";
import { chaosConfig, countsOf, expectAccounted, root } from "../chaos/support/chaos.js";

let nats: ShippedNats | null = null;
const saved: Record<string, string | undefined> = {};
afterAll(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await nats?.stop();
});

describe("security - the shipped per-service NATS permissions, with the real services", { timeout: 240_000 }, () => {
  it("each component does its whole job as its own user; none can publish outside its subjects", async () => {
    nats = await startShippedNats(root);
    const secrets = mkdtempSync(join(tmpdir(), "lspo-identities-"));
    const passwordFile = (u: string) => {
      const f = join(secrets, u);
      writeFileSync(f, nats!.passwords[u as (typeof USERS)[number]]);
      return f;
    };
    // The actors the in-process node agent starts: each kind as its own user (services/controller/src/launcher.ts).
    for (const kind of ["rollout", "verifier", "sampler", "learner"]) {
      for (const [k, v] of [[`LSPO_NATS_USER_${kind.toUpperCase()}`, kind], [`LSPO_NATS_PASSWORD_FILE_${kind.toUpperCase()}`, passwordFile(kind)]]) {
        saved[k] = process.env[k];
        process.env[k] = v;
      }
    }
    const config = chaosConfig("identities", ["run.steps=4", `nats.url=${nats.url}`, "nats.user=controller", `nats.passwordFile=${passwordFile("controller")}`]);
    const denied: string[] = [];
    let probed = false;
    const onStep = async (step: number, _run: RunningRun) => {
      if (step < 1 || probed) return;
      probed = true;
      // While the run goes on, the rollout identity tries to forge a training batch and a weights pointer.
      const nc = await connect({ servers: nats!.url, user: "rollout", pass: nats!.passwords.rollout, reconnect: false });
      const errors: string[] = [];
      void (async () => {
        for await (const s of nc.status()) if (s.type === "error") errors.push(String((s as { error?: Error }).error?.message ?? ""));
      })();
      for (const subject of [subjectFor("batches", config.run.name), `$KV.lspo-weights.${config.run.name}`]) {
        await jetstream(nc).publish(subject, "forged", { timeout: 1000 }).then(() => denied.push(`${subject}: ALLOWED`), () => undefined);
      }
      await nc.flush();
      for (let i = 0; i < 40 && errors.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
      denied.push(...errors);
      await nc.close();
    };
    const s = await train(config, { quiet: true, onStep });
    console.log(JSON.stringify({ scenario: "shipped-permissions", denied, summary: countsOf(s) }));
    expect(probed).toBe(true);
    expect(s.steps).toBe(4);
    expect(s.restarts).toBe(0);
    expectAccounted(s);
    // The components themselves never hit a permission: every violation the server logged is the forger's.
    const violations = nats.log().split("\n").filter((l) => /violation/i.test(l));
    console.log(JSON.stringify({ violations }));
    expect(violations.length).toBeGreaterThanOrEqual(2);
    for (const v of violations) expect(v).toMatch(/User "rollout".*Subject "(lspo\.batches\.identities|\$KV\.lspo-weights\.identities)"/);
    expect(denied.join("\n")).not.toMatch(/ALLOWED/);
    expect(denied.join("\n")).toMatch(/Permissions Violation for Publish to "?lspo\.batches\.identities/i);
    expect(denied.join("\n")).toMatch(/Permissions Violation for Publish to "?\$KV\.lspo-weights\.identities/i);
  });
});
