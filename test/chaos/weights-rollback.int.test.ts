// After a learner restarts from an older checkpoint it publishes a lower policy version. Rollout actors must
// follow that lineage (by content), not keep the newer weights of the abandoned one: otherwise groups sampled
// after the restart come from weights no checkpoint holds, tagged with a version the learner has not reached.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectBus, ensureStreams, jetstreamManager, startNatsServer, type NatsConnection, type NatsServer } from "@lspo/bus";
import { createModelFromSpec, type Weights } from "@lspo/model";
import { WeightsPublisher } from "@lspo/learner";
import { Policy, WeightsFollower } from "@lspo/rollout";
import { readModelDir, writeModelDir } from "@lspo/tasks";
import { chaosConfig } from "./support/chaos.js";

let server: NatsServer;
let nc: NatsConnection;
let modelDir: string;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectBus({ url: server.url });
  await ensureStreams(await jetstreamManager(nc));
  modelDir = join(mkdtempSync(join(tmpdir(), "lspo-rollback-")), "model");
  writeModelDir(modelDir, createModelFromSpec(chaosConfig("rollback").model.init, "model.init"));
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

/** The same weights with every value shifted: a "trained" version that differs from the base. */
const shifted = (w: Weights, by: number): Weights => new Map([...w].map(([k, t]) => [k, { ...t, data: Float32Array.from(t.data, (x) => x + by) }]));

describe("chaos - rollout actors follow a learner that resumed from an older checkpoint", () => {
  it("loads the lower version the restarted learner publishes, and generates from it", async () => {
    const base = readModelDir(modelDir).weights;
    const publisher = await WeightsPublisher.open(nc, "rollback");
    const follower = await WeightsFollower.open(nc, "rollback");
    const policy = await Policy.load({ modelDir, device: "cpu", threads: 1 });
    const greedy = async () => (await policy.generate([[1, 2, 3]], { maxNewTokens: 8 })).tokens[0];

    await publisher.publish(base, 0, 0);
    expect(await follower.sync(policy)).toBe(false); // version 0 is the model directory's own weights
    const fromBase = await greedy();

    // The learner trains to step 4 ...
    const v4 = shifted(base, 0.05);
    await publisher.publish(v4, 4, 4);
    expect(await follower.sync(policy)).toBe(true);
    expect(policy.version).toBe(4);
    const fromV4 = await greedy();
    expect(fromV4).not.toEqual(fromBase);

    // ... is killed, and a new learner resumes from its step-2 checkpoint: version 2, other weights.
    const v2 = shifted(base, 0.02);
    await publisher.publish(v2, 2, 2);
    expect(await follower.sync(policy)).toBe(true);
    expect(policy.version).toBe(2);
    const reference = await Policy.load({ modelDir, device: "cpu", threads: 1 });
    const direct = await WeightsFollower.open(nc, "rollback");
    await direct.sync(reference);
    expect(await greedy()).toEqual((await reference.generate([[1, 2, 3]], { maxNewTokens: 8 })).tokens[0]);
    // Nothing new: no reload.
    expect(await follower.sync(policy)).toBe(false);
    // A learner restarted with no checkpoint at all republishes the base weights as version 0: followed too.
    await publisher.publish(base, 0, 0);
    expect(await follower.sync(policy)).toBe(true);
    expect(policy.version).toBe(0);
    expect(await greedy()).toEqual(fromBase);
  });

  it("takes the new version number when an update moved nothing (identical bytes), so samples are not stale forever", async () => {
    // An update with all-zero advantages and no weight decay publishes the same bytes under the next
    // version. The follower must tag its samples with that version: kept at the old number, every group
    // would fall behind the learner by more than maxOffPolicySteps and be dropped as stale, for good.
    const base = readModelDir(modelDir).weights;
    const publisher = await WeightsPublisher.open(nc, "unchanged");
    const follower = await WeightsFollower.open(nc, "unchanged");
    const policy = await Policy.load({ modelDir, device: "cpu", threads: 1 });
    const v1 = shifted(base, 0.03);
    await publisher.publish(v1, 1, 1);
    expect(await follower.sync(policy)).toBe(true);
    const fromV1 = (await policy.generate([[1, 2, 3]], { maxNewTokens: 8 })).tokens[0];
    for (const version of [2, 3, 4]) {
      await publisher.publish(v1, version, version);
      expect(await follower.sync(policy)).toBe(true);
      expect(policy.version).toBe(version);
      expect(await follower.sync(policy)).toBe(false);
    }
    expect((await policy.generate([[1, 2, 3]], { maxNewTokens: 8 })).tokens[0]).toEqual(fromV1);
  });
});
