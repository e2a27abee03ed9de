// Stand-ins for the continuous loop's tests (stream.ts): deliveries that record what the loop did to them
// (Delivery is our interface), a subscription that stays open as a live one does, and the loop's other
// dependencies. The policy the tests pass is a real one, on real ORT sessions.
import { bytesOf, type Delivery } from "@lspo/bus";
import type { PromptRequest } from "@lspo/proto";
import type { Intake } from "../../src/intake.js";
import type { Policy, WeightsFollower } from "../../src/policy.js";
import type { StreamDeps } from "../../src/stream.js";

/** What the loop did to one delivery (`failed`: counted by a test's own failure path). */
export interface Fate {
  acked: number;
  naked: number;
  working: number;
  failed: number;
}

/** `n` prompts of `groupSize` samples each, uids p0, p1, ..., delivered once. */
export function deliveries(n: number, groupSize: number) {
  const fates = new Map<string, Fate>();
  const list = Array.from({ length: n }, (_, i): Delivery<PromptRequest> => {
    const uid = `p${i}`;
    const fate: Fate = { acked: 0, naked: 0, working: 0, failed: 0 };
    fates.set(uid, fate);
    const body: PromptRequest = { uid, runId: "r", task: "t", promptText: "", promptIds: bytesOf(Int32Array.from([5 + i, 6, 7])), answer: "", groupSize, cursor: BigInt(i) };
    return {
      body, subject: "lspo.prompts.r", seq: i + 1, deliveryCount: 1,
      ack: () => void fate.acked++, nak: () => void fate.naked++, working: () => void fate.working++, term: () => undefined,
      deferAck: () => ({ reply: "" }), deadLetter: async () => undefined,
    };
  });
  return { list, fates };
}

/** A subscription over `list` that stays open (as a live one does) until `end()`. */
export function subscription(list: Delivery<PromptRequest>[]) {
  let end!: () => void;
  const ended = new Promise<void>((resolve) => (end = resolve));
  async function* source() {
    yield* list;
    await ended;
  }
  return { source: source(), end };
}

/** The loop's dependencies: weights that never change, publishing and failing that do nothing, unless `over` says. */
export function loopDeps(policy: Policy, intake: Intake<PromptRequest>, over: Partial<StreamDeps>): StreamDeps {
  return {
    policy,
    weights: { sync: async () => false, behind: async () => false, holdWhileRefused: async () => true } as unknown as WeightsFollower,
    options: { actor: "a", maxNewTokens: 8, temperature: 1, topP: 1, topK: 0, seed: 1, maxRows: 4 },
    intake,
    exclusive: (fn) => fn(),
    callsWaiting: () => 0,
    draining: () => false,
    publish: async () => undefined,
    failed: async () => undefined,
    refused: () => false,
    counters: { syncSeconds: 0, generateSeconds: 0 },
    generating: () => undefined,
    inFlight: new Set(),
    ackWaitMs: 60_000,
    warn: () => undefined,
    ...over,
  };
}
