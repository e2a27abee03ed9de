// A simulated rollout actor for bench/scale.ts: a real process speaking the real protocol, without a model.
// It pulls PromptRequests from the run's shared durable consumer (rollout-<run>, as services/rollout does),
// `promptsPerCall` at a time; "generates" G responses of fake token ids per prompt at a configured rate
// (it sleeps for tokens / tokensPerSecond, the time a real actor would spend generating them); records the
// newest published weights version as the policy version, as a real actor does before each generation;
// publishes the RolloutGroups on LSPO_ROLLOUTS together (message id = prompt uid) and acks each prompt
// once its group is stored. Each response is correct with probability 1/2, so most groups are mixed and
// pass the accuracy filter.
//   argv: JSON { natsUrl, name, tokensPerSecond, promptsPerCall, minTokens, maxTokens, vocabSize, seed, replicas? }
//   control over NATS, so the bench may run it on any host: a request on `simControlSubject(name)` with
//   { run } makes it serve that run from now on (the generation in hand is finished and published first);
//   it replies "serving" once it consumes the run's prompts. It prints SIM_READY when it listens.
// SIGTERM: stop taking prompts, finish the generation in hand, exit.
import { KV_BUCKETS, STREAMS, bytesOf, connectBus, consume, inBatches, jetstream, kvGet, openKv, publishMessage, subjectFor } from "@lspo/bus";
import type { PromptRequest, RolloutGroup, WeightsRef } from "@lspo/proto";
import { SIM_READY, simControlSubject } from "./sim-control.js";
import { simulatedText } from "./sim-text.js";

interface SimOptions {
  natsUrl: string;
  name: string;
  tokensPerSecond: number;
  promptsPerCall: number;
  minTokens: number;
  maxTokens: number;
  vocabSize: number;
  seed: number;
  /** Replicas of the weights bucket, as the run's (opening it with another count fails). */
  replicas?: number;
}

const o = JSON.parse(process.argv[2] ?? "null") as SimOptions | null;
if (!o || !(o.tokensPerSecond > 0) || !(o.promptsPerCall >= 1) || !(o.minTokens >= 1) || !(o.maxTokens >= o.minTokens) || !(o.vocabSize > 1)) {
  throw new Error(`sim-rollout: bad options ${process.argv[2]}: need tokensPerSecond > 0, promptsPerCall >= 1, 1 <= minTokens <= maxTokens, vocabSize > 1`);
}

// xorshift32: a fixed stream per actor, so runs are comparable.
let state = (o.seed >>> 0) || 1;
const rand = () => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 2 ** 32;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const nc = await connectBus({ url: o.natsUrl, name: o.name });
const js = jetstream(nc);
const weightsKv = await openKv(nc, KV_BUCKETS.weights, { replicas: o.replicas ?? 1 });

function fakeGroup(p: PromptRequest, version: bigint): { group: RolloutGroup; tokens: number } {
  const G = Math.max(1, p.groupSize);
  let tokens = 0;
  const responses = Array.from({ length: G }, () => {
    const n = o!.minTokens + Math.floor(rand() * (o!.maxTokens - o!.minTokens + 1));
    tokens += n;
    const ids = Int32Array.from({ length: n }, () => 2 + Math.floor(rand() * (o!.vocabSize - 2)));
    const logprobs = Float32Array.from({ length: n }, () => -0.1 - 2 * rand());
    return { tokenIds: bytesOf(ids), logprobs: bytesOf(logprobs), truncated: n === o!.maxTokens, text: simulatedText(p.answer, rand() < 0.5) };
  });
  // The learner trains on the prompt's token ids: fake ones, as the text is never tokenized here.
  const promptIds = Int32Array.from({ length: 16 }, () => 2 + Math.floor(rand() * (o!.vocabSize - 2)));
  return { group: { uid: p.uid, prompt: { ...p, promptIds: bytesOf(promptIds) }, responses, policyVersion: version, actor: o!.name, generatedAt: new Date() }, tokens };
}

/** Serves one run until its subscription is stopped (a switch to another run, or SIGTERM). */
async function serve(run: string, sub: Awaited<ReturnType<typeof consume<PromptRequest>>>): Promise<void> {
  for await (const deliveries of inBatches(sub, o!.promptsPerCall, 20)) await generation(run, deliveries);
}

let current: { sub: Awaited<ReturnType<typeof consume<PromptRequest>>>; done: Promise<void> } | null = null;
let switching: Promise<void> = Promise.resolve();
/** Stops serving the current run, if any: the generation in hand is finished and published first. */
async function stopServing(): Promise<void> {
  if (!current) return;
  await current.sub.stop();
  await current.done;
  current = null;
}
nc.subscribe(simControlSubject(o.name), {
  callback: (err, msg) => {
    if (err) return;
    let run = "";
    try {
      run = String((JSON.parse(new TextDecoder().decode(msg.data)) as { run?: unknown }).run ?? "");
    } catch {
      /* answered below */
    }
    if (!run) return void msg.respond(new TextEncoder().encode(`error: ${o.name}: a control request needs {"run": "<name>"}`));
    switching = switching
      .then(async () => {
        await stopServing();
        const sub = await consume<PromptRequest>(js, { stream: STREAMS.prompts.name, durable: `rollout-${run}`, kind: "PromptRequest", batch: o.promptsPerCall });
        current = { sub, done: serve(run, sub) };
        msg.respond(new TextEncoder().encode("serving"));
      })
      .catch((e: Error) => {
        console.error(`${o.name}: ${e.stack ?? e.message}`);
        process.exit(1);
      });
  },
});
await nc.flush(); // the subscription is on the server before anyone is told it listens
process.once("SIGTERM", () => {
  void switching.then(async () => {
    await stopServing();
    await nc.close();
    process.exit(0);
  });
});
console.log(SIM_READY);

async function generation(run: string, deliveries: Array<{ body: PromptRequest; ack(): void }>): Promise<void> {
  const t0 = performance.now();
  const ref = await kvGet<WeightsRef>(weightsKv, run, "WeightsRef").catch(() => null);
  const version = ref ? BigInt(ref.value.version) : 0n;
  const made = deliveries.map((d) => fakeGroup(d.body, version));
  const tokens = made.reduce((n, m) => n + m.tokens, 0);
  // The time these tokens would take to generate at the configured rate, counted from the batch's start.
  await sleep(Math.max(0, (tokens / o!.tokensPerSecond) * 1000 - (performance.now() - t0)));
  await Promise.all(
    made.map(async ({ group }, i) => {
      await publishMessage(js, subjectFor("rollouts", run), "RolloutGroup", group, { msgId: `rollout-${group.uid}` });
      deliveries[i].ack();
    }),
  );
}
