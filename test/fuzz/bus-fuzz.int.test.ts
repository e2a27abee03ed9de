// Bad input on the data plane: while a real run trains, every consumer gets hundreds (long form:
// thousands) of malformed payloads on its own subject — random and truncated bytes, wrong kind or schema
// version, missing and mistyped fields, NaN/Inf, token ids outside the vocabulary, misaligned arrays,
// oversize payloads, and each consumer's domain errors. Each one must be dead-lettered with a reason
// (exactly the ones sent: no legitimate message refused), counted by the service that refused it, and
// no service may crash: restarts stay 0 and the run completes with every prompt accounted for.
import { describe, expect, it } from "vitest";
import { actorHandle } from "@lspo/actors";
import { STREAMS, connectBus, jetstream, runBoundsOf, subjectFor, type DeadLetter, type NatsConnection } from "@lspo/bus";
import { train, type RunningRun } from "@lspo/controller";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { LearnerServiceService, RolloutServiceService, SamplerServiceService, VerifierServiceService } from "@lspo/proto";
import { readModelConfig } from "@lspo/tasks";
import { LONG, chaosConfig, countsOf, expectAccounted, rngFor } from "../chaos/support/chaos.js";
import { readDeadLetters } from "./support/dead-letters.js";
import { malformed, type Kind } from "./support/malformed.js";

const PER_CONSUMER = LONG ? 2500 : 500;
// Each kind: the stream it travels on, and the actors (kind) that consume it.
const ROUTES: Record<Kind, { area: "prompts" | "rollouts" | "verified" | "batches"; stream: string; consumer: string; definition: unknown }> = {
  PromptRequest: { area: "prompts", stream: STREAMS.prompts.name, consumer: "rollout", definition: RolloutServiceService },
  RolloutGroup: { area: "rollouts", stream: STREAMS.rollouts.name, consumer: "verifier", definition: VerifierServiceService },
  VerifiedGroup: { area: "verified", stream: STREAMS.verified.name, consumer: "sampler", definition: SamplerServiceService },
  TrainingBatch: { area: "batches", stream: STREAMS.batches.name, consumer: "learner", definition: LearnerServiceService },
};
const KINDS = Object.keys(ROUTES) as Kind[];

async function rejectedBy(run: RunningRun, kind: string, definition: unknown): Promise<number> {
  let total = 0;
  for (const a of run.agent.list().filter((x) => x.kind === kind)) {
    const h = actorHandle(run.registry, definition as typeof LearnerServiceService, a.name);
    const res = await h.call.status({});
    h.close();
    total += Number((res.status?.counters as { rejected?: number }).rejected ?? 0);
  }
  return total;
}

describe("fuzz - malformed payloads to every consumer of a running system", { timeout: LONG ? 900_000 : 240_000 }, () => {
  it(`dead-letters and counts ${PER_CONSUMER} bad messages per consumer; nothing crashes, the run completes`, async () => {
    const config = chaosConfig("fuzz-bus", ["run.steps=4"]);
    const runId = config.run.name;
    const rng = rngFor("bus-fuzz");
    const sent = new Map<Kind, Map<number, string>>(KINDS.map((k) => [k, new Map()]));
    const counted = new Map<Kind, number>();
    const letters = new Map<Kind, DeadLetter[]>();
    let nc: NatsConnection | null = null;
    let fuzzed = false;
    const lettersOf = async (kind: Kind) =>
      (await readDeadLetters(jetstream(nc!), ROUTES[kind].stream)).filter((l) => l.subject === subjectFor(ROUTES[kind].area, runId));
    const onStep = async (step: number, run: RunningRun) => {
      if (step >= config.run.steps && fuzzed) {
        // The last step (the embedded NATS goes with the run): what was refused over the whole run.
        for (const kind of KINDS) letters.set(kind, await lettersOf(kind));
        return;
      }
      if (fuzzed || step < 1) return;
      fuzzed = true;
      nc = await connectBus({ url: run.natsUrl, name: "fuzzer" });
      const js = jetstream(nc);
      const bounds = runBoundsOf(run.config, readModelConfig(run.config.model.dir));
      for (const kind of KINDS) {
        for (const m of malformed(rng, kind, bounds, PER_CONSUMER)) {
          const h = m.headers ? natsHeaders() : undefined;
          for (const [k, v] of Object.entries(m.headers ?? {})) h!.set(k, v);
          const ack = await js.publish(subjectFor(ROUTES[kind].area, runId), m.bytes, h ? { headers: h } : undefined);
          sent.get(kind)!.set(ack.seq, m.category);
        }
      }
      // Hold the controller (not the pipeline) until every bad message has been refused: the wind-down
      // would otherwise purge prompts nobody had read yet.
      const deadline = Date.now() + 120_000;
      for (const kind of KINDS) {
        for (;;) {
          const n = (await lettersOf(kind)).length;
          if (n >= PER_CONSUMER) break;
          if (Date.now() > deadline) throw new Error(`${kind}: only ${n} of ${PER_CONSUMER} dead-lettered after 120 s`);
          await new Promise((r) => setTimeout(r, 250));
        }
        counted.set(kind, await rejectedBy(run, ROUTES[kind].consumer, ROUTES[kind].definition));
      }
    };
    let s;
    try {
      s = await train(config, { quiet: true, onStep });
    } finally {
      await (nc as NatsConnection | null)?.close();
    }
    const report: Record<string, unknown> = {};
    for (const kind of KINDS) {
      const bySeq = new Map(letters.get(kind)!.map((l) => [l.seq, l]));
      // Exactly the payloads sent were refused: every one of them, and no legitimate message.
      expect([...bySeq.keys()].sort((a, b) => a - b), `${kind}: dead-lettered sequences`).toEqual([...sent.get(kind)!.keys()].sort((a, b) => a - b));
      for (const l of bySeq.values()) expect(l.reason.length, `${kind} seq ${l.seq}: a reason`).toBeGreaterThan(0);
      expect(counted.get(kind), `${kind}: counted by ${ROUTES[kind].consumer}`).toBe(PER_CONSUMER);
      const failures: Record<string, number> = {};
      const categories: Record<string, number> = {};
      for (const [seq, category] of sent.get(kind)!) {
        categories[category] = (categories[category] ?? 0) + 1;
        const f = bySeq.get(seq)!.failure;
        failures[f] = (failures[f] ?? 0) + 1;
      }
      report[kind] = { sent: PER_CONSUMER, deadLettered: bySeq.size, counted: counted.get(kind), failures, categories };
    }
    console.log(JSON.stringify({ scenario: "bus-fuzz", report, summary: countsOf(s) }));
    expect(s.restarts).toBe(0);
    expect(s.steps).toBe(4);
    expectAccounted(s);
  });
});
