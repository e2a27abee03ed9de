// Public entry of @lspo/controller.
export {};
export { evaluateModelHeldOut, heldOutProblems, probeGroupMix, type EvalPolicy, type GroupProbeOptions, type GroupProbeResult, type HeldOutOptions, type HeldOutResult } from "./pretrain/evaluate.js";
export { DEMO_PROMPT_TEMPLATE, syntheticPromptText } from "./pretrain/format.js";
