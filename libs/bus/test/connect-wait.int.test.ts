// The first NATS connection waits for a server that is not up yet (waitForServerMs, LSPO_NATS_WAIT_S): pods
// start before NATS does. Without it, one refusal fails at once, as before.
// Making a JetStream manager asks the server for the account's info. On a loaded cluster or during a leader
// election that request times out or finds no JetStream for a while, and a controller's start used to end on a
// bare "timeout" there: the bus's jetstreamManager retries it as every setup call is (retryOnTimeout), and so do
// openKv and openObjectStore.
// Real nats-servers.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { busOptionsFromEnv, connectBus, findNatsServerBinary, getBlob, jetstreamManager, openKv, openObjectStore, putBlob, startNatsServer } from "@lspo/bus";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager as natsJetstreamManager } from "@nats-io/jetstream";

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe("bus - waiting for NATS to come up", { timeout: 60_000 }, () => {
  it("keeps trying the first connection until a server listens, within waitForServerMs", async () => {
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    await expect(connectBus({ url })).rejects.toThrow(/refused/i);
    const connecting = connectBus({ url, waitForServerMs: 20_000, timeoutMs: 1000 });
    await new Promise((r) => setTimeout(r, 1500));
    const server = await startNatsServer({ port });
    try {
      const nc = await connecting;
      expect(nc.isClosed()).toBe(false);
      await nc.close();
    } finally {
      await server.stop();
    }
  });

  it("reads LSPO_NATS_WAIT_S, refusing what is not a number of seconds", () => {
    expect(busOptionsFromEnv({ LSPO_NATS_WAIT_S: "300" }).waitForServerMs).toBe(300_000);
    expect(() => busOptionsFromEnv({ LSPO_NATS_WAIT_S: "soon" })).toThrow(/LSPO_NATS_WAIT_S must be a number of seconds >= 0, got 'soon'/);
  });

  // Each opener, started while the server answers without JetStream, must wait (not settle) and then open what it
  // was asked for once a JetStream server takes the port. nats.js's own manager gives up on the first answer.
  // Each entry: what is opened, how, and what the opened thing answers.
  const openers: [string, (nc: NatsConnection) => Promise<string>, string][] = [
    ["a JetStream manager", async (nc) => `${(await (await jetstreamManager(nc)).getAccountInfo()).streams} streams`, "0 streams"],
    ["a KV bucket (openKv)", async (nc) => {
      const kv = await openKv(nc, "waited");
      await kv.put("k", new TextEncoder().encode("v"));
      return new TextDecoder().decode((await kv.get("k"))!.value);
    }, "v"],
    ["an object store (openObjectStore)", async (nc) => {
      const store = await openObjectStore(nc, "waited");
      await putBlob(store, "b", new TextEncoder().encode("blob"));
      return new TextDecoder().decode((await getBlob(store, "b"))!);
    }, "blob"],
  ];
  for (const [what, open, answer] of openers) {
    it(`makes ${what} once JetStream answers, where nats.js alone fails at once (a plain server first, then a JetStream one on its port)`, async () => {
      const port = await freePort();
      const plain = spawn(findNatsServerBinary(), ["-a", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
      const plainExited = new Promise((r) => plain.once("exit", r));
      let server: Awaited<ReturnType<typeof startNatsServer>> | null = null;
      const nc = await connectBus({ url: `nats://127.0.0.1:${port}`, waitForServerMs: 10_000, timeoutMs: 1000 });
      try {
        await expect(natsJetstreamManager(nc)).rejects.toThrow(/jetstream|no responders|timeout/i);
        const making = open(nc);
        let settled = false;
        void making.then(() => (settled = true), () => (settled = true));
        await new Promise((r) => setTimeout(r, 1500));
        expect(settled, "made or failed while JetStream was still away").toBe(false);
        plain.kill("SIGTERM");
        await plainExited;
        server = await startNatsServer({ port });
        expect(await making).toBe(answer);
      } finally {
        await nc.close();
        plain.kill("SIGKILL");
        await server?.stop();
      }
    });
  }
});
