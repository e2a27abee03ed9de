// The rollout actor's continuous mode (rollout.maxRows set): the prompts it takes join one ContinuousBatch as
// its rows free up, whichever pull they came in, and each group is published and its prompt acked the moment
// its G samples have ended. So neither a call's longest response nor the wait for a call's last prompt holds
// rows idle (the call mode, main.ts, decodes a call's prompts together and starts the next call after).
//
// A batch is one policy version: the weights are synced before it opens and cannot change while it is open. While
// it runs, the actor reads the weights pointer every WEIGHTS_POLL_MS. Once the pointer names other weights, a
// gRPC Generate call waits for the session, or the actor drains, the batch takes no new prompt, runs dry, and
// closes; the next one opens after the sync. Rows stand idle only in that drain. Weights the actor refuses (a value
// not finite) open no batch: the prompts taken wait, their deadlines kept, until the pointer names other weights.
import type { Delivery } from "@lspo/bus";
import type { PromptRequest, RolloutGroup } from "@lspo/proto";
import { type GroupOptions, groupOf, planGroup, sequencesOf } from "./groups.js";
import type { Intake } from "./intake.js";
import type { Policy, WeightsFollower } from "./policy.js";

/** How often an open batch reads the weights pointer, in ms. */
export const WEIGHTS_POLL_MS = 250;

export interface StreamDeps {
  policy: Policy;
  weights: WeightsFollower;
  options: GroupOptions & { maxRows: number };
  intake: Intake<PromptRequest>;
  /** Runs fn holding the actor's one generation session. */
  exclusive: <T>(fn: () => Promise<T>) => Promise<T>;
  /** gRPC Generate calls waiting for the session: an open batch closes for them. */
  callsWaiting: () => number;
  /** The actor is stopping: take no more prompts. */
  draining: () => boolean;
  /** Publishes a group and acks its prompt. */
  publish: (group: RolloutGroup, delivery: Delivery<PromptRequest>) => Promise<void>;
  /** A generation failed: dead-letter or redeliver its prompts (main.ts), or rethrow. */
  failed: (err: Error, deliveries: Delivery<PromptRequest>[]) => Promise<void>;
  /** True (and reported) when a sync's error is a version refused for its values: the loop holds its prompts. */
  refused: (err: unknown) => boolean;
  counters: { syncSeconds: number; generateSeconds: number };
  /** Set while a batch is open (ms, performance.now()), 0 otherwise. */
  generating: (since: number) => void;
  /** Prompts admitted to the open batch and not yet published. */
  inFlight: Set<Delivery<PromptRequest>>;
  /** The prompt stream's ack wait: held prompts report progress at a third of it. */
  ackWaitMs: number;
  warn: (fields: object, message: string) => void;
}

/** Runs batch after batch until the subscription ends; prompts left waiting at a drain go back to the stream. */
export async function streamLoop(s: StreamDeps): Promise<void> {
  // Held prompts' ack deadlines, those decoding and those waiting to join (also while a gRPC call has the session).
  const keepAlive = setInterval(() => [...s.inFlight, ...s.intake.held()].forEach((d) => d.working()), Math.max(1000, s.ackWaitMs / 3));
  try {
    for (;;) {
      await s.intake.arrival();
      if (s.draining()) break;
      if (s.intake.size === 0) return; // ended, nothing held
      // Weights refused for their values: the prompts taken wait (kept alive) for other weights, or the drain.
      if (!(await s.weights.holdWhileRefused(s.draining))) break;
      await s.exclusive(() => runBatch(s));
    }
    // Draining: what never joined a batch goes to another actor now rather than after the ack wait.
    for (let d = s.intake.take(); d; d = s.intake.take()) d.nak();
  } finally {
    clearInterval(keepAlive);
  }
}

/** One batch: sync, then admit and decode until there is nothing to admit or a reason to close. */
async function runBatch(s: StreamDeps): Promise<void> {
  const { policy, options, intake, inFlight } = s;
  const s0 = performance.now();
  try {
    await s.weights.sync(policy);
  } catch (err) {
    if (s.refused(err)) return; // nothing admitted: the loop holds what it took
    throw err;
  }
  const t0 = performance.now();
  s.counters.syncSeconds += (t0 - s0) / 1000;
  const version = policy.version;
  const batch = policy.openBatch(options.maxRows, options.onStep);
  s.generating(t0);

  let stale = false;
  let polling = false;
  const poll = setInterval(() => {
    if (polling || stale) return;
    polling = true;
    s.weights.behind(policy).then(
      (behind) => ((stale ||= behind), (polling = false)),
      (err: Error) => (s.warn({ err: err.message }, "could not read the weights pointer; the batch goes on"), (polling = false)),
    );
  }, WEIGHTS_POLL_MS);
  const publishing: Promise<void>[] = [];
  // A publish that fails fails the batch (its prompt is still in flight: failed() decides its fate).
  let publishFailed: Error | null = null;
  let admitting = true;
  try {
    for (;;) {
      if (publishFailed) throw publishFailed;
      // Once a reason to close comes, the batch admits nothing more and may drop its free rows as it runs dry.
      if (admitting && (stale || s.draining() || s.callsWaiting() > 0)) {
        admitting = false;
        batch.close();
      }
      // Keep every row fed: admit whole groups while the batch has fewer sequences than rows.
      while (admitting && batch.live + batch.waiting < batch.rows && intake.size > 0) {
        const d = intake.take()!;
        const plan = planGroup(policy, d.body, undefined, options);
        inFlight.add(d);
        batch.add(sequencesOf(plan, options, (responses) => {
          const group = groupOf(policy, plan, responses, version, options.actor);
          publishing.push(s.publish(group, d).then(() => void inFlight.delete(d), (err: Error) => void (publishFailed ??= err)));
        }));
      }
      if (batch.live === 0 && batch.waiting === 0) break;
      await batch.step();
      // Let pub-acks, acks and the pointer poll run between steps.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await Promise.all(publishing);
    if (publishFailed) throw publishFailed;
  } catch (err) {
    await Promise.allSettled(publishing);
    await s.failed(err as Error, [...inFlight]);
    inFlight.clear();
  } finally {
    clearInterval(poll);
    batch.release();
    s.counters.generateSeconds += (performance.now() - t0) / 1000;
    s.generating(0);
  }
}
