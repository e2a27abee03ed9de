// deploy - the NATS identities and permissions we ship (deploy/nats/accounts.conf, also in k8s/nats), on a
// real nats-server: each component can do its whole job over JetStream (consumers the controller made,
// acks, KV, object store) and nothing outside it; a client without credentials cannot connect.
// (test/security/identities.int.test.ts tries every identity x action of the documented matrix.)
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteObject, ensureStream, openKv, type StreamSpec } from "@lspo/bus";
import { startShippedNats, type ShippedNats, type User } from "./support/nats-server.js";

const root = resolve(import.meta.dirname, "../..");
let nats: ShippedNats;
const open: NatsConnection[] = [];

const STREAMS = {
  LSPO_PROMPTS: ["lspo.prompts.>", RetentionPolicy.Workqueue],
  LSPO_ROLLOUTS: ["lspo.rollouts.>", RetentionPolicy.Workqueue],
  LSPO_VERIFIED: ["lspo.verified.>", RetentionPolicy.Limits],
  LSPO_BATCHES: ["lspo.batches.>", RetentionPolicy.Workqueue],
  LSPO_DLQ: ["lspo.dlq.>", RetentionPolicy.Limits],
} as const;

/** A connection as `user`, recording the server's permission errors. */
async function as(user: User): Promise<{ nc: NatsConnection; violations: string[] }> {
  const nc = await connect({ servers: nats.url, user, pass: nats.passwords[user], reconnect: false });
  open.push(nc);
  const violations: string[] = [];
  void (async () => {
    for await (const s of nc.status()) if (s.type === "error") violations.push(String((s as any).error?.message ?? s));
  })();
  return { nc, violations };
}

/** `op` must fail, and the server must have named `subject` in a permission violation. */
async function denied(c: { nc: NatsConnection; violations: string[] }, subject: string, op: () => Promise<unknown>): Promise<void> {
  await expect(op()).rejects.toThrow();
  await c.nc.flush();
  const deadline = Date.now() + 2000;
  while (!c.violations.some((v) => v.includes(subject)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(c.violations.join("\n")).toMatch(new RegExp(`[Pp]ermissions [Vv]iolation for Publish to "?${subject.replace(/[.$>*]/g, "\\$&")}`));
}

/** Takes one message from `stream` as durable `consumer` and acks it (with the server's confirmation). The
 *  consumer is the controller's to make (services/controller/src/run/provision.ts); the component binds. */
async function takeOne(nc: NatsConnection, stream: string, consumer: string): Promise<string> {
  const jsm = await jetstreamManager((await as("controller")).nc);
  await jsm.consumers.add(stream, { durable_name: consumer, ack_policy: AckPolicy.Explicit });
  const m = await jetstream(nc).consumers.get(stream, consumer).then((c) => c.next({ expires: 3000 }));
  if (!m) throw new Error(`no message on ${stream}`);
  expect(await m.ackAck()).toBe(true);
  return m.string();
}

beforeAll(async () => {
  nats = await startShippedNats(root);
  // The controller owns the run: it creates the streams, buckets and object stores.
  const { nc } = await as("controller");
  const jsm = await jetstreamManager(nc);
  // LSPO_VERIFIED allows direct gets, as libs/bus creates it: the learner reads the kept groups' bodies there.
  for (const [name, [subject, retention]] of Object.entries(STREAMS)) await jsm.streams.add({ name, subjects: [subject], retention, ...(name === "LSPO_VERIFIED" ? { allow_direct: true } : {}) });
  for (const b of ["lspo-actors", "lspo-weights", "lspo-sampler"]) await new Kvm(nc).create(b);
  for (const b of ["lspo-weights", "lspo-batches", "lspo-checkpoints"]) await new Objm(nc).create(b);
});

afterAll(async () => {
  for (const nc of open) await nc.close().catch(() => {});
  await nats?.stop();
});

describe("deploy - NATS permissions", () => {
  it("refuses a client without credentials or with a wrong password", async () => {
    await expect(connect({ servers: nats.url, reconnect: false })).rejects.toThrow(/Authorization/i);
    await expect(connect({ servers: nats.url, user: "learner", pass: "wrong", reconnect: false })).rejects.toThrow(/Authorization/i);
  });

  it("the pipeline runs end to end, each identity doing only its part", async () => {
    const controller = await as("controller");
    await jetstream(controller.nc).publish("lspo.prompts.r1", "prompt-1", { msgID: "p1" });

    // Rollout: prompt in, rollout out, registry heartbeat, weights read.
    const rollout = await as("rollout");
    expect(await takeOne(rollout.nc, "LSPO_PROMPTS", "rollout")).toBe("prompt-1");
    await jetstream(rollout.nc).publish("lspo.rollouts.r1", "rollout-1");
    await (await new Kvm(rollout.nc).open("lspo-actors")).put("r1.actor.rollout.rollout-0", "alive");
    expect(await (await new Kvm(rollout.nc).open("lspo-weights")).get("r1")).toBeNull();

    // Verifier: rollout in, verified group out.
    const verifier = await as("verifier");
    expect(await takeOne(verifier.nc, "LSPO_ROLLOUTS", "verifier")).toBe("rollout-1");
    await jetstream(verifier.nc).publish("lspo.verified.r1", "verified-1");

    // Sampler: verified in, batch out (a large one through the object store), refill request, snapshot.
    const sampler = await as("sampler");
    expect(await takeOne(sampler.nc, "LSPO_VERIFIED", "sampler")).toBe("verified-1");
    await (await new Objm(sampler.nc).open("lspo-batches")).putBlob({ name: "batch-1" }, new Uint8Array(3 << 20).fill(7));
    await jetstream(sampler.nc).publish("lspo.batches.r1", "batch-1");
    await jetstream(sampler.nc).publish("lspo.prompts.r1", "refill");
    await (await new Kvm(sampler.nc).open("lspo-sampler")).put("r1", "snapshot");

    // Learner: batch in (read by reference), weights out (object + version in KV).
    const learner = await as("learner");
    expect(await takeOne(learner.nc, "LSPO_BATCHES", "learner")).toBe("batch-1");
    const batch = await (await new Objm(learner.nc).open("lspo-batches")).getBlob("batch-1");
    expect(batch?.length).toBe(3 << 20);
    // The groups a batch names, read from LSPO_VERIFIED by sequence (a direct get).
    expect((await (await jetstreamManager(learner.nc)).direct.getMessage("LSPO_VERIFIED", { seq: 1 }))?.string()).toBe("verified-1");
    await (await new Objm(learner.nc).open("lspo-weights")).putBlob({ name: "v1" }, new Uint8Array(1024).fill(1));
    await (await new Kvm(learner.nc).open("lspo-weights")).put("r1", "v1");
    // Old versions and the sampler's merged state segments are deleted (deleteObject: chunk by chunk where,
    // as on this machine's nats-server, a purge by subject filter leaks the account's usage).
    const learnerWeights = await new Objm(learner.nc).open("lspo-weights");
    await learnerWeights.putBlob({ name: "v0" }, new Uint8Array(400_000).fill(2));
    await deleteObject(learner.nc, learnerWeights, "v0");
    expect((await learnerWeights.info("v0"))?.deleted).toBe(true);
    // A checkpoint's sampler state: the learner puts it in its own store and deletes old ones; the controller
    // copies it out.
    const checkpoints = await new Objm(learner.nc).open("lspo-checkpoints");
    await checkpoints.putBlob({ name: "r1.sampler.step-000002" }, new Uint8Array(200_000).fill(4));
    expect((await (await new Objm(controller.nc).open("lspo-checkpoints")).getBlob("r1.sampler.step-000002"))?.length).toBe(200_000);
    await deleteObject(learner.nc, checkpoints, "r1.sampler.step-000002");
    expect((await checkpoints.info("r1.sampler.step-000002"))?.deleted).toBe(true);
    const samplerState = await new Objm(sampler.nc).open("lspo-batches");
    await samplerState.putBlob({ name: "segment-0" }, new Uint8Array(300_000).fill(3));
    await deleteObject(sampler.nc, samplerState, "segment-0");
    expect((await samplerState.info("segment-0"))?.deleted).toBe(true);

    // Rollout picks the new weights up: KV read and object-store read (ordered consumers, flow control).
    expect((await (await new Kvm(rollout.nc).open("lspo-weights")).get("r1"))?.string()).toBe("v1");
    expect((await (await new Objm(rollout.nc).open("lspo-weights")).getBlob("v1"))?.length).toBe(1024);

    // Everyone may report a dead letter; the controller reads every bucket.
    for (const c of [rollout, verifier, sampler, learner]) await jetstream(c.nc).publish("lspo.dlq.r1", "bad");
    expect((await (await new Kvm(controller.nc).open("lspo-sampler")).get("r1"))?.string()).toBe("snapshot");
    expect(rollout.violations.concat(verifier.violations, sampler.violations, learner.violations, controller.violations)).toEqual([]);
  });

  it("a component cannot publish outside its subjects", async () => {
    const rollout = await as("rollout");
    await denied(rollout, "lspo.verified.r1", () => jetstream(rollout.nc).publish("lspo.verified.r1", "forged", { timeout: 1000 }));
    await denied(rollout, "$KV.lspo-weights.r1", async () => (await new Kvm(rollout.nc).open("lspo-weights")).put("r1", "forged", { timeout: 1000 } as any));
    const verifier = await as("verifier");
    await denied(verifier, "lspo.batches.r1", () => jetstream(verifier.nc).publish("lspo.batches.r1", "forged", { timeout: 1000 }));
    const learner = await as("learner");
    await denied(learner, "lspo.prompts.r1", () => jetstream(learner.nc).publish("lspo.prompts.r1", "forged", { timeout: 1000 }));
    await denied(learner, "$O.lspo-batches", async () => (await new Objm(learner.nc).open("lspo-batches")).putBlob({ name: "forged" }, new Uint8Array(8)));
    const sampler = await as("sampler");
    await denied(sampler, "$O.lspo-weights", async () => (await new Objm(sampler.nc).open("lspo-weights")).putBlob({ name: "forged" }, new Uint8Array(8)));
  });

  it("only the controller may delete or purge the pipeline's streams", async () => {
    const verifier = await as("verifier");
    await denied(verifier, "$JS.API.STREAM.DELETE.LSPO_PROMPTS", async () => (await jetstreamManager(verifier.nc, { timeout: 1000 })).streams.delete("LSPO_PROMPTS"));
    await denied(verifier, "$JS.API.STREAM.PURGE.LSPO_ROLLOUTS", async () => (await jetstreamManager(verifier.nc, { timeout: 1000 })).streams.purge("LSPO_ROLLOUTS"));
    const controller = await as("controller");
    expect((await (await jetstreamManager(controller.nc)).streams.purge("LSPO_DLQ")).success).toBe(true);
  });
});

describe("deploy - components bind to what the controller makes", () => {
  it("a component that may not create a bucket waits for the controller to make it, then binds; one that matches writes nothing", async () => {
    const rollout = await as("rollout");
    const waiting = openKv(rollout.nc, "lspo-late"); // denied to create: waits (createOrAwait in @lspo/bus)
    let bound = false;
    void waiting.then(() => (bound = true));
    await new Promise((r) => setTimeout(r, 1500));
    expect(bound).toBe(false);
    const controller = await as("controller");
    await openKv(controller.nc, "lspo-late");
    const kv = await waiting;
    expect(await kv.get("anything")).toBeNull();
    // A stream that already has the settings asked for is bound without a write (the rollout user may not
    // update streams); asking for other settings is an update, refused with the server's reason.
    const spec: StreamSpec = { name: "LSPO_BIND", subjects: ["bind.>"], retention: "limits", kind: "RunEvent", description: "bind test" };
    await ensureStream(await jetstreamManager(controller.nc), spec, { duplicateWindowMs: 60_000 });
    await ensureStream(await jetstreamManager(rollout.nc), spec, { duplicateWindowMs: 60_000 });
    await expect(ensureStream(await jetstreamManager(rollout.nc), spec, { duplicateWindowMs: 30_000 })).rejects.toThrow(/permissions violation.*STREAM\.UPDATE\.LSPO_BIND/i);
    await rollout.nc.flush();
    // The only refusals: its attempt to create the bucket (then it waited) and the update it asked for.
    expect(rollout.violations.some((v) => /STREAM\.CREATE\.KV_lspo-late/.test(v))).toBe(true);
    const others = rollout.violations.filter((v) => !/STREAM\.(UPDATE\.LSPO_BIND|CREATE\.KV_lspo-late)/.test(v));
    expect(others, others.join("; ")).toEqual([]);
  });
});
