// Every NATS name the system uses, in one table (documented in docs/ARCHITECTURE.md).
// Data flows one way: prompts -> rollouts -> verified -> batches; weights flow back through KV + object store.

export interface StreamSpec {
  /** JetStream stream name. */
  name: string;
  /** Subject filter the stream captures. */
  subjects: string[];
  /** Work queue: a message is removed once acked (each prompt generated once); limits: kept for replay. */
  retention: "workqueue" | "limits";
  /** Direct gets allowed (readers fetch single messages by sequence from any replica). */
  allowDirect?: boolean;
  /** What the stream carries (the envelope kind). */
  kind: string;
  description: string;
}

export const STREAMS = {
  prompts: {
    name: "LSPO_PROMPTS",
    subjects: ["lspo.prompts.>"],
    retention: "workqueue",
    kind: "PromptRequest",
    description: "prompt requests, consumed by rollout actors with explicit ack and redelivery",
  },
  rollouts: {
    name: "LSPO_ROLLOUTS",
    subjects: ["lspo.rollouts.>"],
    retention: "workqueue",
    kind: "RolloutGroup",
    description: "generated groups, consumed by verifiers",
  },
  verified: {
    name: "LSPO_VERIFIED",
    subjects: ["lspo.verified.>"],
    // Kept (not a work queue): the sampler reads only each message's summary header and its batches name
    // the kept groups by sequence; the learner reads their bodies from here (group-summary.ts).
    retention: "limits",
    allowDirect: true,
    kind: "VerifiedGroup",
    description: "scored groups: the sampler judges their summary headers, the learner reads the kept ones' bodies",
  },
  batches: {
    name: "LSPO_BATCHES",
    subjects: ["lspo.batches.>"],
    // Kept (not a work queue): the learner reads them in order by sequence and records the last one in
    // each checkpoint, so a learner restarted from an older checkpoint replays exactly the batches after it.
    retention: "limits",
    kind: "TrainingBatch",
    description: "training batches of exactly B groups, read in order by the learner",
  },
  deadLetters: {
    name: "LSPO_DLQ",
    subjects: ["lspo.dlq.>"],
    retention: "limits",
    kind: "DeadLetter",
    description: "rejected payloads with the reason, for inspection; never consumed automatically",
  },
  events: {
    name: "LSPO_EVENTS",
    // lspo.events.<run>.<kind>: what the actors report to the controller (metrics records, the sampler's
    // judgements, ledger records, checkpoint manifests, evaluations). Kept, so a controller on any host
    // (or one resumed) reads the whole run from NATS instead of from another process's disk.
    subjects: ["lspo.events.>"],
    retention: "limits",
    kind: "RunEvent",
    description: "run events (metrics, judgements, ledger, checkpoint manifests), read by the controller",
  },
} as const satisfies Record<string, StreamSpec>;

/** Subject for a run's messages on a stream: `lspo.<area>.<runId>`. */
export function subjectFor(stream: keyof typeof STREAMS, runId: string): string {
  const base = STREAMS[stream].subjects[0].replace(/\.>$/, "");
  if (!/^[A-Za-z0-9_-]+$/.test(runId)) {
    throw new Error(`run id '${runId}' may contain only letters, digits, '_' and '-' (it becomes a NATS subject token)`);
  }
  return `${base}.${runId}`;
}

/** What travels on LSPO_EVENTS, one subject token each. */
export const EVENT_KINDS = ["metric", "judged", "ledger", "checkpoint", "eval"] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** `lspo.events.<runId>.<kind>`; `*` for kind gives the run's filter. */
export function eventSubject(runId: string, kind: EventKind | "*"): string {
  return `${subjectFor("events", runId)}.${kind}`;
}

export const KV_BUCKETS = {
  /** Actor registry: name -> ActorRecord (heartbeats). */
  actors: "lspo-actors",
  /** Weights version pointer: `<runId>` -> WeightsRef. */
  weights: "lspo-weights",
  /** Sampler snapshots: `<runId>` -> snapshot. */
  sampler: "lspo-sampler",
  /** The learner's swap log: `<runId>.swaps` -> the hot swaps it accepted. */
  learner: "lspo-learner",
} as const;

/** The sampler's durable snapshot in OBJECT_STORES.batches; every object it is made of is named `<this>.<part>`. */
export function samplerSnapshotObject(runId: string): string {
  return `sampler-${runId}.snapshot`;
}

export const OBJECT_STORES = {
  weights: "lspo-weights",
  /** The run's base model files, for hosts that do not have model.dir (`model-<runId>/<file>`). */
  models: "lspo-models",
  batches: "lspo-batches",
  /** Each checkpoint's sampler state, written by the learner for the controller to copy (`<runId>.sampler.step-<n>`). */
  checkpoints: "lspo-checkpoints",
} as const;
