// The run configuration, declared once: every key's type, default and one-line meaning. Unknown keys are
// errors. Odd defaults carry their reason. A file gives any subset; defaults fill the rest.
import { z } from "zod";

const fraction = z.number().min(0).max(1);
const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().min(0);

export const RunSchema = z.strictObject({
  /** Run name: also the NATS subject token and the run directory's name. */
  name: z.string().regex(/^[A-Za-z0-9_-]+$/, "letters, digits, '_' and '-' only").default("run"),
  seed: z.number().int().default(1),
  /** sync: generate -> filter -> update (the paper's loop); pipelined: rollouts for k+1 overlap update k. */
  mode: z.enum(["sync", "pipelined"]).default("sync"),
  /** Learner updates to run. */
  steps: positiveInt.default(10),
  /**
   * Generation budget: request at most this many prompts (rollout groups) and end the run once all of
   * them are judged and every batch they filled is trained, even before run.steps (0 = no budget).
   * Equal budgets let runs that keep different fractions of their groups be compared fairly.
   */
  maxGroups: nonNegativeInt.default(0),
  /**
   * Groups sampled by a policy more than this many versions behind the learner are dropped (counted).
   * Unset: 0 in sync mode, 1 in pipelined. Sync is on-policy: the kept groups a round makes beyond the batch
   * (dynamic sampling asks for more prompts than B) were sampled by the weights before the next update, so
   * they are dropped, as DAPO discards them, rather than trained one version late.
   */
  maxOffPolicySteps: nonNegativeInt.optional(),
  /** Run directory; default runs/<name>-<timestamp>. */
  dir: z.string().default(""),
  /** Wall-clock bound on the whole run (0 = none); a run past it stops with a clear error. */
  timeoutS: nonNegativeInt.default(0),
});

export const NatsSchema = z.strictObject({
  /** Empty: `lspo train` starts an embedded nats-server for the run. No credentials in it: a URL is
   *  logged and saved with the run (use user + passwordFile / tokenFile, or LSPO_NATS_* env). */
  url: z
    .string()
    .refine((u) => !/^[a-z]+:\/\/[^/]*@/i.test(u), "credentials in the URL would be logged and saved with the run; set nats.user and nats.passwordFile (or nats.tokenFile, or LSPO_NATS_* env) instead")
    .default(""),
  user: z.string().default(""),
  /** Secrets come from files (or LSPO_NATS_* env), never from the config itself. */
  passwordFile: z.string().default(""),
  tokenFile: z.string().default(""),
  tlsCa: z.string().default(""),
  tlsCert: z.string().default(""),
  tlsKey: z.string().default(""),
  /** JetStream replicas for the run's streams (3 on a clustered NATS). */
  replicas: positiveInt.default(1),
});

/**
 * The data plane's bounds. A message whose processing fails on its `maxDeliver`-th delivery is dead-lettered
 * with the reason instead of coming back forever; the kept streams are bounded by age and bytes so a long
 * deployment never fills the NATS disk (0 = no bound of that kind).
 */
export const BusSchema = z.strictObject({
  /** Deliveries of one message before it is dead-lettered (a poison message stops here). */
  maxDeliver: z.number().int().min(2).default(5),
  /**
   * LSPO_VERIFIED: every verified group's body (kept or not), which training batches name by sequence: the
   * learner reads them from here, so they must outlive the checkpoint interval like the batches. The
   * oldest go first past either bound; a batch naming one that went is refused (dead-lettered) by the learner.
   * Limits streams reserve their max bytes against the server's `max_file_store` (16G in k8s/nats): the
   * defaults of all four kept streams sum to 14 GiB.
   */
  verifiedMaxAgeS: nonNegativeInt.default(7 * 24 * 3600),
  verifiedMaxBytes: nonNegativeInt.default(8 * 1024 ** 3),
  /**
   * LSPO_BATCHES: the learner replays from its checkpoint, so batches must outlive the checkpoint interval.
   * A batch names its groups (a few hundred bytes), so 1 GiB holds millions.
   */
  batchesMaxAgeS: nonNegativeInt.default(7 * 24 * 3600),
  batchesMaxBytes: nonNegativeInt.default(1024 ** 3),
  /** LSPO_DLQ: kept for inspection, not forever. */
  deadLettersMaxAgeS: nonNegativeInt.default(14 * 24 * 3600),
  deadLettersMaxBytes: nonNegativeInt.default(1024 ** 3),
  /** LSPO_EVENTS: metrics, judgements, ledger records, checkpoint manifests (the controller keeps local copies). */
  eventsMaxAgeS: nonNegativeInt.default(30 * 24 * 3600),
  eventsMaxBytes: nonNegativeInt.default(4 * 1024 ** 3),
  /**
   * JetStream's duplicate window on every stream: a message id repeated within it is dropped. Retried
   * publishes rely on it; nothing's correctness does beyond it (a sampler restart checks the batches stream).
   */
  duplicateWindowS: positiveInt.default(120),
});

export const SecuritySchema = z.strictObject({
  /** File holding the bearer token that state-changing gRPC calls need; empty = no token. */
  grpcTokenFile: z.string().default(""),
  grpcTlsCert: z.string().default(""),
  grpcTlsKey: z.string().default(""),
  /** CA for client certificates: enables mutual TLS. */
  grpcTlsCa: z.string().default(""),
  /** File of `<identity> <sha256 of its token>` lines (deploy/make-secrets.sh): servers authorise callers per
   *  identity (their certificate's spiffe://lspo/<identity>) and method group; empty = one shared token. */
  grpcTokenDigestsFile: z.string().default(""),
});

export const ModelSchema = z.strictObject({
  /** A Hugging Face model directory (config.json, model.safetensors, tokenizer.json). */
  dir: z.string().default(""),
  /** When `dir` is empty: a fresh model from this `lspo model init` config (architecture fields). */
  init: z.record(z.string(), z.unknown()).default({}),
  device: z.enum(["cpu", "webgpu", "cuda"]).default("cpu"),
  /** Intra-op threads per ORT session (one per actor process on a small machine). Learner and CPU rollout actors
   *  are placed with this many CPUs, which their agent hands them (LSPO_THREADS). */
  threads: positiveInt.default(1),
  /**
   * How published policy versions carry float tensors to the rollout actors: fp32, or bf16 (half the bytes
   * on the wire; what a bf16 Hugging Face checkpoint holds, rounded to nearest even as torch does). The
   * learner trains and checkpoints in fp32 either way.
   */
  storageDtype: z.enum(["fp32", "bf16"]).default("fp32"),
});

/** How the reward's verifier reads responses (libs/tasks, "Math answer verifier"). */
export const TaskVerifierSchema = z.strictObject({
  /**
   * strict: only marked answers (`\boxed`, `####`, "the answer is", "Final Answer:"), the default for
   * rewards, since a policy rewarded for any last number learns to scatter numbers. lenient: also the
   * last math span or number, as evaluation graders do.
   */
  extract: z.enum(["strict", "lenient"]).default("strict"),
  /** Relative precision a decimal must carry to stand for an exact value (`0.0833333` for 1/12); 0: exact only. */
  floatTolerance: z.number().min(0).max(0.01).default(1e-6),
});

export const TaskSchema = z.strictObject({
  kind: z.enum(["synthetic", "dataset"]).default("synthetic"),
  /** Options of the synthetic arithmetic task (libs/tasks), e.g. difficulty. */
  synthetic: z.record(z.string(), z.unknown()).default({}),
  /** Dataset options (path, format, field mapping) for kind: dataset. */
  dataset: z.record(z.string(), z.unknown()).default({}),
  /** Plain prompt template with one {prompt} placeholder; the demo policy was pretrained with the default. */
  template: z.string().default("{prompt}\n"),
  /** Distinct training problems drawn from the synthetic task (the cursor walks them, epoch after epoch). */
  poolSize: positiveInt.default(4096),
  /** zero-one: 1/0; plus-minus-one: +1/-1 (DAPO's paper). */
  reward: z.enum(["zero-one", "plus-minus-one"]).default("zero-one"),
  verifier: TaskVerifierSchema.default(TaskVerifierSchema.parse({})),
});

export const RolloutSchema = z.strictObject({
  /**
   * Rollout actors to place. 0 = one per slot of the agents the rollout selector matches (cluster.agents
   * "remote" only): GPUs x actorsPerGpu on a GPU node, actorsPerGpu on a node without GPUs. Kubernetes
   * overlays use 0, so adding nodes or GPUs scales the actors without editing the run.
   */
  actors: nonNegativeInt.default(2),
  /** G: responses per prompt. */
  groupSize: positiveInt.default(8),
  /** Prompts generated together in one batched call (G x this sequences). */
  promptsPerCall: positiveInt.default(4),
  /**
   * Continuous batching: the actor decodes at most this many sequences at once, across pulls. The prompts it
   * takes join as rows free up (a finished sequence's row goes to the next waiting one: one long response holds
   * one row, not a batch), and each group is published as soon as it ends. A new weights version is taken
   * between batches: the open one stops admitting and runs dry first, so every group is one policy version.
   * gRPC Generate calls decode their own sequences this many at a time. Absent: by calls, each call's
   * G x promptsPerCall sequences at once.
   */
  maxRows: positiveInt.optional(),
  maxNewTokens: positiveInt.default(64),
  temperature: z.number().positive().default(1),
  topP: z.number().gt(0).max(1).default(1),
  topK: nonNegativeInt.default(0),
  /** A prompt not acked within this time is redelivered to another actor. */
  ackWaitMs: positiveInt.default(60_000),
  /** Node agent restarts before an actor is marked FAILED (-1 = unlimited). */
  maxRestarts: z.number().int().min(-1).default(5),
  /** Actors per GPU on GPU nodes (an agent's LSPO_ACTORS_PER_GPU overrides it for its node). */
  actorsPerGpu: positiveInt.default(1),
});

export const VerifierSchema = z.strictObject({
  /**
   * Verifiers the controller places. 0: none; they run as their own workload (Kubernetes: Deployment
   * lspo-verifier, `lspo serve verifier`, scaled by KEDA on the rollout backlog), as stateless consumers need.
   */
  actors: nonNegativeInt.default(1),
  /** A rollout group not acked within this time (its verifier died) is redelivered to another. */
  ackWaitMs: positiveInt.default(30_000),
  maxRestarts: z.number().int().min(-1).default(5),
});

export const SamplerSchema = z.strictObject({
  /** stream: sliding window, judged on arrival (our extension); batch: the paper's per-generation-batch rule. */
  mode: z.enum(["stream", "batch"]).default("stream"),
  /** false = the base algorithm's accuracy filter only (no LSPO length rule). */
  lengthFilter: z.boolean().default(true),
  /** false = keep all-correct / all-wrong groups too (original GRPO, no dynamic sampling; smoke runs). */
  accuracyFilter: z.boolean().default(true),
  /** B: groups per training batch. */
  batchSize: positiveInt.default(8),
  /** W: window of recent per-prompt lengths (stream mode). */
  window: positiveInt.default(64),
  /** Generation batch in batch mode (prompts per round). */
  genBatch: positiveInt.default(16),
  /**
   * Batch mode: generation rounds in a row that fill no training batch before the run fails with
   * GenRoundsExceededError (the numbers in its message); 0 = no cap. 10 is DAPO's (verl's max_num_gen_batches).
   */
  maxGenRounds: nonNegativeInt.default(10),
  /** Length rule bounds: true keeps L <= Q(lLow) or Q(lHigh) <= L <= Q(lMax); false, the same strictly. */
  boundInclusive: z.boolean().default(true),
  /**
   * Batch mode's quantiles: over this generation batch's survivors (`batch`, the paper), or over every
   * survivor of the rounds since the last training batch (`window`, the accumulated one).
   */
  quantileScope: z.enum(["batch", "window"]).default("batch"),
  lLow: fraction.default(0.3),
  lHigh: fraction.default(0.65),
  lMax: fraction.default(0.95),
  warmup: z.enum(["judge", "accept", "reject"]).default("judge"),
  /** Bound on prompts in flight; 0 = 4 x batchSize. */
  maxInFlight: nonNegativeInt.default(0),
  /** A verified group not acked within this time (the sampler died) is redelivered to its successor. */
  ackWaitMs: positiveInt.default(30_000),
  /**
   * The sampler's durable state: a snapshot after this many groups judged, or this long after the first
   * group judged since the last one, whichever comes first. Judged groups are acked only once a snapshot
   * covers them (a crash replays the unacked ones, in stream order, from the last snapshot).
   */
  snapshotEveryGroups: positiveInt.default(1024),
  snapshotEveryMs: positiveInt.default(2000),
  maxRestarts: z.number().int().min(-1).default(5),
}).refine((s) => s.snapshotEveryMs * 2 <= s.ackWaitMs, {
  message: "sampler.snapshotEveryMs must be at most half of sampler.ackWaitMs: a judged group waits for the next snapshot before its ack, and must be acked before the server redelivers it",
  path: ["snapshotEveryMs"],
});

export const LearnerSchema = z.strictObject({
  /** The base algorithm preset and overrides (libs/algos validates them). */
  algorithm: z
    .strictObject({ name: z.string().default("dapo"), overrides: z.record(z.string(), z.unknown()).default({}) })
    .default({ name: "dapo", overrides: {} }),
  lr: z.number().positive().default(1e-4),
  /** Linear warmup length in updates (scaled to optimizer steps by the learner: ppoEpochs x mini-batches). */
  warmupSteps: nonNegativeInt.default(0),
  schedule: z.enum(["constant", "cosine"]).default("constant"),
  weightDecay: z.number().min(0).default(0),
  maxGradNorm: z.number().positive().default(1),
  /** Sequences per forward/backward pass (gradients accumulate); 0 = the whole batch at once. */
  microBatch: nonNegativeInt.default(0),
  /** Recompute each decoder layer's activations in the backward pass instead of keeping them all: about a
   *  third more compute, one layer's activations at a time instead of every layer's. Gradients unchanged. */
  recompute: z.boolean().default(false),
  /** The log-prob passes (old and reference log-probs) run the LM head's log-softmax over this many vocabulary
   *  entries at a time: [tokens, vocabChunk] logits at once instead of [tokens, vocabulary]. 0 = all at once. */
  vocabChunk: nonNegativeInt.default(32768),
  /** Recompute old log-probs with the learner's weights (one forward pass) instead of the rollout's. */
  recomputeOldLogprobs: z.boolean().default(true),
  /**
   * Where logp_old comes from, fixed once per batch before its first mini-batch: `recompute` (a forward pass
   * with the weights the learner holds then) or `rollout` (the rollout's own log-probs). Unset: as
   * recomputeOldLogprobs says. verl's semantics (shared/docs/ALGORITHMS.md).
   */
  oldLogprobs: z.enum(["recompute", "rollout"]).optional(),
  /**
   * Groups per optimizer step (a mini-batch); 0 = a quarter of the update's groups, rounded up. Several steps
   * per batch are what make the clips act: only the first mini-batch has ratios of exactly 1 (DAPO's recipe:
   * 512 prompts in mini-batches of 32).
   */
  ppoMiniBatch: nonNegativeInt.default(0),
  /** Passes over the batch per update (verl's ppo_epochs). */
  ppoEpochs: positiveInt.default(1),
  /**
   * Truncated importance sampling (verl's TIS): each token's loss times min(exp(logp_old - logp_rollout), C)
   * with C this cap, correcting for rollouts from an older policy (pipelined mode) or other numerics. Needs
   * recomputed old log-probs. null = off; verl's default cap is 2.
   */
  tisCap: z.number().min(1).nullable().default(null),
  checkpointEvery: nonNegativeInt.default(5),
  keepCheckpoints: positiveInt.default(3),
  maxRestarts: z.number().int().min(-1).default(5),
  /** Published weight versions go out as shards of at most this many MiB of tensor data each (one object
   *  per shard, so no buffer on either side holds a whole large model). */
  weightsShardMb: z.number().positive().default(512),
  /** The memory the learner may use, GiB: before it loads anything it estimates its peak from the config
   *  (libs/model memory.ts) and refuses to start, with the numbers, above this. 0 = no check. */
  memoryBudgetGb: z.number().min(0).default(0),
});

export const EvalSchema = z.strictObject({
  /** Evaluate every N learner steps (0 = only before and after). */
  every: nonNegativeInt.default(0),
  /** Held-out prompts per evaluation. */
  prompts: positiveInt.default(64),
  maxNewTokens: positiveInt.default(64),
  /**
   * Responses sampled per held-out prompt at rollout.temperature for the sampled accuracy (what RL
   * optimises), beside the greedy accuracy; 0 = greedy only. The same seeds at every evaluation.
   */
  samples: nonNegativeInt.default(0),
  /**
   * Which accuracy is the run's headline (summary.json accuracy_before/after): "greedy" (temperature 0), or
   * "sampled", the mean correctness of eval.samples responses per prompt at rollout.temperature (avg@k, as
   * DAPO reports avg@32): the policy RL trains and samples from. Both are recorded whenever samples > 0.
   */
  metric: z.enum(["greedy", "sampled"]).default("greedy"),
});

const PlacementSchema = z.strictObject({
  /** Labels an agent must all carry (LSPO_NODE_LABELS) to run this kind, e.g. { role: "rollout" }. */
  nodeSelector: z.record(z.string(), z.string()).default({}),
});

export const ClusterSchema = z.strictObject({
  /**
   * "local": `lspo train` starts its own node agent (one machine: tests, demo). "remote": no agent in the
   * controller; it waits for `lspo agent` processes registered under run.name and places actors on them.
   */
  agents: z.enum(["local", "remote"]).default("local"),
  /** Remote: how long to wait for agents whose labels satisfy every kind's nodeSelector. */
  agentWaitS: positiveInt.default(60),
  /**
   * Remote: once every kind has an agent, how long the set of live agents must stay unchanged before
   * placing. Agents of a DaemonSet come up over several seconds, and `rollout.actors: 0` counts the slots
   * of the agents up at that moment. 0: place at once.
   */
  agentSettleS: nonNegativeInt.default(10),
  /**
   * A node agent with no new registry record for this long is dead and its actors are re-placed. Above
   * a brief network partition (10 s) on purpose: a host that was cut off for a moment is not replaced.
   */
  nodeDeadAfterS: positiveInt.default(15),
  placement: z
    .strictObject({
      learner: PlacementSchema.default(PlacementSchema.parse({})),
      sampler: PlacementSchema.default(PlacementSchema.parse({})),
      verifier: PlacementSchema.default(PlacementSchema.parse({})),
      rollout: PlacementSchema.default(PlacementSchema.parse({})),
    })
    .default({ learner: { nodeSelector: {} }, sampler: { nodeSelector: {} }, verifier: { nodeSelector: {} }, rollout: { nodeSelector: {} } }),
});

export const RunConfigSchema = z
  .strictObject({
    run: RunSchema.default(RunSchema.parse({})),
    nats: NatsSchema.default(NatsSchema.parse({})),
    security: SecuritySchema.default(SecuritySchema.parse({})),
    bus: BusSchema.default(BusSchema.parse({})),
    model: ModelSchema.default(ModelSchema.parse({})),
    task: TaskSchema.default(TaskSchema.parse({})),
    rollout: RolloutSchema.default(RolloutSchema.parse({})),
    verifier: VerifierSchema.default(VerifierSchema.parse({})),
    sampler: SamplerSchema.default(SamplerSchema.parse({})),
    learner: LearnerSchema.default(LearnerSchema.parse({})),
    eval: EvalSchema.default(EvalSchema.parse({})),
    cluster: ClusterSchema.default(ClusterSchema.parse({})),
  })
  .refine((c) => c.rollout.actors > 0 || c.cluster.agents === "remote", {
    path: ["rollout", "actors"],
    message: 'rollout.actors 0 (one per agent slot) needs cluster.agents "remote": a local run has no agents to count',
  })
  // Defaults that depend on another key, filled once the keys are valid: the resolved config says the number.
  .transform((c) => ({ ...c, run: { ...c.run, maxOffPolicySteps: c.run.maxOffPolicySteps ?? defaultMaxOffPolicySteps(c.run.mode) } }));

/** run.maxOffPolicySteps when the config leaves it unset: on-policy in sync mode, one version late pipelined. */
export function defaultMaxOffPolicySteps(mode: "sync" | "pipelined"): number {
  return mode === "sync" ? 0 : 1;
}

export type RunConfig = z.infer<typeof RunConfigSchema>;
