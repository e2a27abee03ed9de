// The first NATS connection waits for a server that is not up yet (waitForServerMs, LSPO_NATS_WAIT_S): pods
// start before NATS does. Without it, one refusal fails at once, as before. Real nats-server.
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { busOptionsFromEnv, connectBus, startNatsServer } from "@lspo/bus";

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
});
