// Public entry of @lspo/controller: the training-run controller behind `lspo train`.
export { train, readSummary, ActorFailedError, type TrainOptions, type RunningRun } from "./run/controller.js";
export { provisionRun } from "./run/provision.js";
export { restoreSamplerState, type SamplerRestore } from "./run/restore-sampler.js";
export { SamplerStateCopies } from "./run/sampler-copies.js";
export { type Summary } from "./run/summary.js";
export { KEPT_OUTCOMES } from "./run/ledger.js";
export { PromptSource, type PromptItem, type PromptSourceState } from "./run/prompt-source.js";
export { evaluateModelHeldOut, heldOutProblems, probeGroupMix, type EvalPolicy, type GroupProbeOptions, type GroupProbeResult, type HeldOutOptions, type HeldOutResult } from "./pretrain/evaluate.js";
export { DEMO_PROMPT_TEMPLATE, syntheticPromptText } from "./pretrain/format.js";
