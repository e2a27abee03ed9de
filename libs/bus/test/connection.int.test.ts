// A clustered NATS is addressed as a comma list of its servers (`nats.url`, LSPO_NATS_URL): the client must
// get the list, not one malformed URL, and reach the cluster through any live member.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectBus, serverList, startNatsServer, type NatsServer } from "@lspo/bus";

let server: NatsServer;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});

describe("connection", () => {
  it("connection - a comma list is split into servers, blanks dropped", () => {
    expect(serverList("nats://a:4222, nats://b:4222,,nats://c:4222")).toEqual(["nats://a:4222", "nats://b:4222", "nats://c:4222"]);
    expect(serverList("nats://a:4222")).toEqual(["nats://a:4222"]);
  });

  it("connection - connects through a live member when another listed server is down", async () => {
    // Port 1 on loopback refuses at once; the client moves on to the next server in the list.
    const nc = await connectBus({ url: `nats://127.0.0.1:1,${server.url}`, timeoutMs: 5000 });
    try {
      await nc.flush();
      expect(nc.getServer()).toContain(new URL(server.url).port);
    } finally {
      await nc.close();
    }
  });
});
