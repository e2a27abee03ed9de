// The first NATS connection waits for a server that is not up yet (waitForServerMs, LSPO_NATS_WAIT_S): pods
// start before NATS does. Without it, one refusal fails at once, as before.
// Making a JetStream manager asks the server for the account's info. On a loaded cluster or during a leader
// election that request times out or finds no JetStream for a while, and a controller's start used to end on a
// bare "timeout" there: the bus's jetstreamManager retries it as every setup call is (retryOnTimeout).
// Real nats-servers.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { busOptionsFromEnv, connectBus, findNatsServerBinary, jetstreamManager, startNatsServer } from "@lspo/bus";
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

  it("makes a JetStream manager once JetStream answers, where nats.js alone fails at once (a plain server first, then a JetStream one on its port)", async () => {
    const port = await freePort();
    const plain = spawn(findNatsServerBinary(), ["-a", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
    const plainExited = new Promise((r) => plain.once("exit", r));
    let server: Awaited<ReturnType<typeof startNatsServer>> | null = null;
    const nc = await connectBus({ url: `nats://127.0.0.1:${port}`, waitForServerMs: 10_000, timeoutMs: 1000 });
    try {
      // The server answers, without JetStream: nats.js's own manager gives up on the first answer.
      await expect(natsJetstreamManager(nc)).rejects.toThrow(/jetstream|no responders|timeout/i);
      const making = jetstreamManager(nc);
      let settled = false;
      void making.then(() => (settled = true), () => (settled = true));
      await new Promise((r) => setTimeout(r, 1500));
      expect(settled, "made or failed while JetStream was still away").toBe(false);
      plain.kill("SIGTERM");
      await plainExited;
      server = await startNatsServer({ port });
      const jsm = await making;
      expect((await jsm.getAccountInfo()).streams).toBe(0);
    } finally {
      await nc.close();
      plain.kill("SIGKILL");
      await server?.stop();
    }
  });
});
