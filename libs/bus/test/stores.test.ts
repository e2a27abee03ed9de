// Object store on a real nats-server: blobs larger than the max payload round-trip byte for byte, hashed
// with node:crypto (set by @lspo/bus on import).
import { randomFillSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getSha256Backend } from "@nats-io/obj";
import { connectBus, getBlob, openObjectStore, putBlob, startNatsServer, type NatsConnection, type NatsServer } from "@lspo/bus";

let server: NatsServer;
let nc: NatsConnection;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectBus({ url: server.url });
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

describe("stores - object store", () => {
  it("hashes with node:crypto, not the object store's pure-JS default", () => {
    expect(getSha256Backend()).toBe("native");
  });

  it("round-trips a multi-chunk blob byte for byte, and names a missing object", async () => {
    const store = await openObjectStore(nc, "test-blobs");
    const blob = randomFillSync(new Uint8Array(3 * 1024 * 1024 + 17)); // 25 chunks of 128 KB, the last partial
    await putBlob(store, "w-1", blob);
    const got = await getBlob(store, "w-1");
    expect(got.byteLength).toBe(blob.byteLength);
    expect(Buffer.compare(got, blob)).toBe(0);
    await expect(getBlob(store, "nope")).rejects.toThrow(/'nope' not found/);
  });
});
