// Two runs on one NATS share each stage's stream (a subject per run), and their uids can coincide (same
// seed, same data): a message id deduplicates a retry within its run, never a message of another run.
import { afterAll, beforeAll, expect, it } from "vitest";
import { STREAMS, connectBus, ensureStreams, jetstream, jetstreamManager, publishMessage, startNatsServer, subjectFor, type NatsConnection, type NatsServer } from "@lspo/bus";

let server: NatsServer;
let nc: NatsConnection;
beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectBus({ url: server.url });
  await ensureStreams(await jetstreamManager(nc));
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

it("bus - the same message id in two runs' subjects is stored twice; a retry in one run is dropped", async () => {
  const js = jetstream(nc);
  const a = await publishMessage(js, subjectFor("rollouts", "run-a"), "Raw", { n: 1 }, { msgId: "rollout-uid-7" });
  const b = await publishMessage(js, subjectFor("rollouts", "run-b"), "Raw", { n: 1 }, { msgId: "rollout-uid-7" });
  const again = await publishMessage(js, subjectFor("rollouts", "run-a"), "Raw", { n: 1 }, { msgId: "rollout-uid-7" });
  expect(a.duplicate).toBe(false);
  expect(b.duplicate).toBe(false);
  expect(again.duplicate).toBe(true);
  const info = await (await jetstreamManager(nc)).streams.info(STREAMS.rollouts.name, { subjects_filter: "lspo.rollouts.>" });
  expect(info.state.subjects).toEqual({ [subjectFor("rollouts", "run-a")]: 1, [subjectFor("rollouts", "run-b")]: 1 });
});
