// A real nats-server with the pipeline's streams (ensureStreams), started before a test file's tests and
// stopped after them.
import { afterAll, beforeAll } from "vitest";
import { ensureStreams, jetstreamManager, startLocalBus, type JetStreamManager, type LocalBus, type NatsConnection } from "@lspo/bus";

export function busWithStreams(): { readonly nc: NatsConnection; readonly jsm: JetStreamManager } {
  let bus: LocalBus | undefined;
  let jsm: JetStreamManager | undefined;
  beforeAll(async () => {
    bus = await startLocalBus();
    jsm = await jetstreamManager(bus.nc);
    await ensureStreams(jsm);
  });
  afterAll(() => bus?.stop());
  return {
    get nc() {
      return bus!.nc;
    },
    get jsm() {
      return jsm!;
    },
  };
}
