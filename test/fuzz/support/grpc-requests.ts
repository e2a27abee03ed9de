// Requests for every gRPC method: seeded random ones (fast-check arbitraries over each message's fields,
// edge values included: NaN, +-Inf, negatives, 0, huge, empty, out-of-vocabulary ids) and raw random bytes,
// plus hand-written invalid ones with the field the answer must name.
import fc from "fast-check";
import * as grpc from "@grpc/grpc-js";
import { bytesOf } from "@lspo/bus";
import { SamplerMode, type GenerateRequest, type PromptRequest, type RolloutGroup, type SamplingParams } from "@lspo/proto";

// Mostly valid, sometimes not: each field is a good value four times in five, an edge value otherwise, so
// both the refusals and the paths past validation get exercised.
const mostly = <T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<T>): fc.Arbitrary<T> => fc.oneof({ arbitrary: good, weight: 4 }, { arbitrary: bad, weight: 1 });
const edge = fc.constantFrom(NaN, Infinity, -Infinity, -1, 1.5, 2 ** 31, -1e-9);
const u32edge = fc.constantFrom(0, 99, 2 ** 32 - 1);
const ids = (vocab: number, min: number) =>
  mostly(
    fc.array(fc.integer({ min: 0, max: vocab - 1 }), { minLength: min, maxLength: 12 }),
    fc.array(fc.oneof(fc.integer({ min: 0, max: vocab - 1 }), fc.constantFrom(-1, vocab, 2 ** 31 - 1)), { maxLength: 12 }),
  );

const sampling: fc.Arbitrary<SamplingParams> = fc.record({
  temperature: mostly(fc.constantFrom(0, 0.7, 1), edge),
  topP: mostly(fc.constantFrom(0, 0.9, 1), edge),
  topK: mostly(fc.constantFrom(0, 5), fc.constant(2 ** 32 - 1)),
  maxNewTokens: mostly(fc.constantFrom(0, 4, 12), fc.constantFrom(300, 2 ** 32 - 1)),
  seed: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  stopTokenIds: fc.constant([]),
});

function promptArb(vocab: number, groupSize: number, shared?: SamplingParams): fc.Arbitrary<PromptRequest> {
  return fc.record({
    uid: fc.string({ maxLength: 8 }),
    runId: fc.string({ maxLength: 4 }),
    task: fc.constant("synthetic"),
    promptText: fc.oneof(fc.constant(""), fc.string({ maxLength: 40 }), fc.constant("1+1=")),
    promptIds: ids(vocab, 1).map((a) => bytesOf(Int32Array.from(a))),
    answer: fc.string({ maxLength: 3 }),
    groupSize: mostly(fc.integer({ min: 1, max: groupSize }), u32edge),
    sampling: fc.constant(shared),
    cursor: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  });
}

function rolloutArb(vocab: number, groupSize: number): fc.Arbitrary<RolloutGroup> {
  const response = mostly(fc.integer({ min: 1, max: 6 }), fc.constant(0)).chain((n) =>
    fc.record({
      tokenIds: fc.array(mostly(fc.integer({ min: 0, max: vocab - 1 }), fc.constant(-3)), { minLength: n, maxLength: n }).map((a) => bytesOf(Int32Array.from(a))),
      logprobs: mostly(fc.constant(n), fc.constant(n + 1)).chain((m) =>
        fc.array(mostly(fc.float({ min: -20, max: 0, noNaN: true }), fc.constantFrom(NaN, -Infinity)), { minLength: m, maxLength: m }).map((a) => bytesOf(Float32Array.from(a))),
      ),
      truncated: fc.boolean(),
      text: fc.oneof(fc.string({ maxLength: 20 }), fc.constant("#### 2")),
    }),
  );
  return fc.record({
    uid: fc.string({ maxLength: 8 }),
    prompt: mostly(promptArb(vocab, groupSize), fc.constant(undefined)) as fc.Arbitrary<PromptRequest | undefined>,
    responses: fc.array(response, { minLength: 0, maxLength: groupSize + 1 }),
    policyVersion: fc.bigInt({ min: 0n, max: 100n }),
    actor: fc.string({ maxLength: 4 }),
  });
}

const structValue: fc.Arbitrary<unknown> = fc.oneof(fc.constantFrom(0, 0.1, 0.2, 0.28, 1e-3), edge, fc.string({ maxLength: 6 }), fc.boolean(), fc.constant(null));
const overrideKey = fc.constantFrom("clip_low", "clip_high", "kl_coef", "bogus_key", "max_response_length", "overlong_buffer");
const fraction = mostly(fc.constantFrom(0, 0, 0, 0.3, 0.65, 0.95, 1), edge);

/** A seeded arbitrary per method key (as in the generated service definitions). */
export function requestArbitraries(vocab: number, groupSize: number): Record<string, fc.Arbitrary<unknown>> {
  return {
    // One call samples with one setting: the prompts of a request share theirs (or, rarely, do not).
    generate: fc
      .tuple(fc.option(sampling, { nil: undefined }), fc.integer({ min: 0, max: 3 }))
      .chain(([shared, n]) => fc.record({ prompts: fc.array(promptArb(vocab, groupSize, shared), { minLength: n, maxLength: n }) })) as fc.Arbitrary<GenerateRequest>,
    verify: fc.record({ group: mostly(rolloutArb(vocab, groupSize), fc.constant(undefined)) as fc.Arbitrary<RolloutGroup | undefined> }),
    refill: fc.record({ inFlight: fc.oneof(fc.integer({ min: 0, max: 64 }), u32edge) }),
    updateConfig: fc.record({
      config: mostly(
        fc.record({
          mode: mostly<SamplerMode>(fc.constantFrom(SamplerMode.SAMPLER_MODE_UNSPECIFIED, SamplerMode.SAMPLER_MODE_BATCH, SamplerMode.SAMPLER_MODE_STREAM), fc.constantFrom(3, 7) as unknown as fc.Arbitrary<SamplerMode>),
          batchSize: fc.constantFrom(0, 1, 2, 4, 8),
          window: fc.constantFrom(0, 1, 4, 16, 64),
          lLow: fraction,
          lHigh: fraction,
          lMax: fraction,
          lengthFilter: fc.boolean(),
        }),
        fc.constant(undefined),
      ),
    }),
    swapAlgorithm: fc.record({
      spec: mostly(
        fc.record({
          name: mostly(fc.constantFrom("grpo", "dapo", "gspo", "dr_grpo"), fc.constantFrom("", "ppo", "DAPO", "dapo ")),
          overrides: mostly(fc.constant({}), fc.dictionary(overrideKey, structValue, { maxKeys: 3 })),
        }),
        fc.constant(undefined),
      ),
    }),
    checkpoint: fc.constant({}),
    status: fc.constant({}),
    stats: fc.constant({}),
    listActors: fc.constant({}),
    stopActor: fc.record({ name: fc.constantFrom("", "nope", "../x", "sleeper-0", "sleeper-1", "ok-0") }),
    startActors: fc.record({
      kind: fc.oneof(fc.constant("sleeper"), fc.constantFrom("", "rollout", "../bin/sh", "sleeper ")),
      namePrefix: fc.oneof(fc.constantFrom("", "ok"), fc.constantFrom("../etc", "a b", "x.y")),
      count: fc.oneof(fc.constant(1), fc.constantFrom(0, 257, 2 ** 32 - 1)),
      // Only names that are always wrong (a valid explicit name may meet ALREADY_EXISTS, a different answer).
      names: mostly(fc.constant([] as string[]), fc.constantFrom<string[]>(["../x"], ["a b"], ["dup", "dup"], ["", "y"])),
      perActor: mostly(
        fc.option(fc.record({ cpus: fc.constantFrom(0, 0.5, 1), gpuIds: fc.constant([]), gpus: fc.constantFrom(0, 0, 0, 1), memoryBytes: fc.constant(0n) }), { nil: undefined }),
        fc.record({ cpus: edge, gpuIds: fc.constant([]), gpus: fc.constantFrom(1.5, -2, NaN), memoryBytes: fc.constant(0n) }),
      ),
      configJson: mostly(fc.constant("{}"), fc.constantFrom("", "not json", '{"rollout":{"actors":"x"}}', '{"bogus":1}', "[1,2]")),
      maxRestarts: mostly(fc.constantFrom(-1, 0, 3), fc.constant(-2)),
    }),
  };
}

/** `n` samples of an arbitrary, reproducible from `seed`. */
export const samples = <T>(arb: fc.Arbitrary<T>, n: number, seed: number): T[] => fc.sample(arb, { numRuns: n, seed });

/** Raw request bytes straight onto a method path, bypassing the client's serializer. */
export function rawCall(client: grpc.Client, path: string, bytes: Buffer, md = new grpc.Metadata()): Promise<{ code: grpc.status; details: string }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, bytes, md, { deadline: Date.now() + 30_000 }, (err) =>
      resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: "" }),
    );
  });
}
