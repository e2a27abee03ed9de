// Public entry of @lspo/algos: GRPO, DAPO, GSPO, Dr. GRPO as presets over shared parts (advantages,
// reward shaping, policy losses, KL, aggregation), a float64 reference with analytic gradients, and hot swap.
export { ADVANTAGE_STD_EPS, type AdvantageEstimator, advantageEstimators, unbiasedStd } from "./advantages.js";
export { type Aggregation, aggregationWeights, aggregations } from "./aggregation.js";
export { type RolloutBatch, type RolloutGroup, type RolloutResponse, formatPath, validateBatch } from "./batch.js";
export {
  DuplicateNameError,
  InvalidBatchError,
  InvalidSpecError,
  NonFiniteLossError,
  type SpecIssue,
  SwapProtocolError,
  UnknownNameError,
} from "./errors.js";
export { type BatchEvaluation, evaluateBatch } from "./evaluate.js";
export { buildGraphLoss, type GraphLoss, type GraphLossBuilder, type GraphMetrics, graphLossBuilder } from "./graph-loss.js";
export { graphClippedSurrogate } from "./graph-surrogate.js";
export { type GraphLossInput, type GraphPolicyTerms, type GraphSequenceInput } from "./graph-types.js";
export { type AlgorithmStateSnapshot, AlgorithmState, type SwapEvent } from "./hot-swap.js";
export { type KlEstimator, klEstimators } from "./kl.js";
export { combineMetrics, MetricCombineError, UPDATE_METRIC_KEYS } from "./metric-combine.js";
export { type ClampedLogRatio, clampLogRatio, graphClampLogRatio } from "./log-ratio.js";
export { type LossInput } from "./loss-input.js";
export { type AlgorithmParams, normConstant, PARAM_DOCS, PARAM_NAMES } from "./params.js";
export {
  type ClipSide,
  clippedSurrogate,
  type PolicyLoss,
  policyLosses,
  type SequenceSlice,
  type SequenceTerms,
  type TokenTerm,
} from "./policy-losses.js";
export { nestByGroup, prepareLossInput, shapedRewards } from "./prepare.js";
export { type Preset, presets } from "./presets.js";
export { referenceLoss, type ReferenceResult, type UpdateMetrics } from "./reference.js";
export { Registry } from "./registry.js";
export { TRAINING_INPUTS, type TrainingLossContext, type TrainingLossOptions, trainingLossBuilder } from "./training-loss.js";
export { type OverlongShaping, overlongKeep, overlongPenalty } from "./shaping.js";
export { type AlgorithmSpec, parseOverrides, parseSetValue, presetSpec, resolveSpec } from "./spec.js";
