// The learner's batch acks survive a NATS restart that lost one (batch-acks.ts). The loss is made certain: the
// server is frozen (SIGSTOP), the ack goes out into its socket, and the server is killed (SIGKILL) before it
// could read it, then started again on the same store. A plain ack is lost that way (the control below); the
// learner's is sent again once the client reconnects. Real nats-server, real JetStream consumer.
import { AckPolicy, jetstream, jetstreamManager, type JsMsg } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { afterEach, describe, expect, it } from "vitest";
import { startLocalBus, type LocalBus } from "@lspo/bus";
import { BatchAcks } from "../src/batch-acks.js";

let bus: LocalBus | null = null;
afterEach(async () => {
  await bus?.stop().catch(() => undefined);
  bus = null;
});

/** A stream of three messages and a consumer with the learner's long ack wait; two delivered, unacked. */
async function twoDelivered(b: LocalBus): Promise<{ first: JsMsg; second: JsMsg; pending: () => Promise<number> }> {
  const jsm = await jetstreamManager(b.nc);
  const js = jetstream(b.nc);
  await jsm.streams.add({ name: "B", subjects: ["b.>"] });
  for (let i = 0; i < 3; i++) await js.publish("b.x", new Uint8Array([i]));
  await jsm.consumers.add("B", { durable_name: "learner", ack_policy: AckPolicy.Explicit, ack_wait: nanos(30 * 60_000), max_ack_pending: 4 });
  const consumer = await js.consumers.get("B", "learner");
  const first = (await consumer.next())!;
  const second = (await consumer.next())!;
  const pending = async () => (await jsm.consumers.info("B", "learner")).num_ack_pending;
  return { first, second, pending };
}

/** Acks `second` with `ack` while the server is frozen, then kills it and starts it again on its store. */
async function ackLostInRestart(b: LocalBus, ack: () => void): Promise<void> {
  process.kill(b.server.pid, "SIGSTOP");
  ack();
  // The client writes it out within a tick or two (a flush would wait for the frozen server's answer).
  await new Promise((r) => setTimeout(r, 300));
  await b.server.restart("SIGKILL");
}

async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("learner batch acks across a NATS restart", { timeout: 60_000 }, () => {
  it("control: a plain ack the restart caught is lost, and the batch stays pending", async () => {
    bus = await startLocalBus();
    const { first, second, pending } = await twoDelivered(bus);
    first.ack();
    await until("the first ack", async () => (await pending()) === 1);
    await ackLostInRestart(bus, () => second.ack());
    await until("the server back", async () => (await pending()) >= 0);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await pending()).toBe(1);
  });

  it("the learner's ack is sent again after the reconnect: nothing stays pending", async () => {
    bus = await startLocalBus();
    const { first, second, pending } = await twoDelivered(bus);
    const acks = new BatchAcks(bus.nc);
    const resent: number[] = [];
    const following = acks.follow((answered) => resent.push(answered));
    try {
      acks.ack(first);
      await until("the first ack", async () => (await pending()) === 1);
      await ackLostInRestart(bus, () => acks.ack(second));
      await until("both acks on the restarted server", async () => (await pending()) === 0);
      // Both kept acks went again, and the server answered both (the first was already there: harmless).
      await until("the resend's answer", async () => resent.length > 0);
      expect(resent).toEqual([2]);
    } finally {
      following.stop();
    }
    // Stopped: the next reconnect sends nothing again.
    await bus.server.restart("SIGKILL");
    await until("the client reconnected", async () => (await pending()) === 0);
    await new Promise((r) => setTimeout(r, 500));
    expect(resent).toEqual([2]);
  });

  it("keeps only the latest acks", async () => {
    bus = await startLocalBus();
    const { first, second, pending } = await twoDelivered(bus);
    const acks = new BatchAcks(bus.nc, 1);
    acks.ack(first);
    acks.ack(second);
    await until("both acked", async () => (await pending()) === 0);
    expect(await acks.resend()).toBe(1);
  });
});
