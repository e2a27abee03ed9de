// Public entry of @lspo/learner: the learner service and its parts.
export { runLearner } from "./main.js";
export { LearnerConfigError, LearnerCore, type LearnerOptions, NonFiniteUpdateError, oldLogprobsSource, type UpdateRecord } from "./learner-core.js";
export { type MiniBatch, microBatchRows, miniBatchGroups, planUpdate, UpdatePlanError } from "./update-plan.js";
export { buildTrainingRows, BatchShapeError, type TrainingRows } from "./batch-tensors.js";
export { writeCheckpoint, loadCheckpoint, latestValidCheckpoint, listCheckpoints, CheckpointError, type CheckpointState, type LoadedCheckpoint } from "./checkpoint.js";
export { WeightsPublisher } from "./weights-publisher.js";
export {
  SAMPLER_STATE_FILE, decodeSamplerState, encodeSamplerState, publishSamplerState, readSamplerState, SamplerStateUnread, samplerStateObject, sha256Hex,
  type ReadSamplerStateOptions, type SamplerState, type SamplerStateRef,
} from "./sampler-state.js";
export { SWAP_LOG_BUCKET, SwapGate, SwapLog, SwapLogError, type SwapRecord, readSwapLog, requestDurableSwap, resumeSwaps, swapsAfter } from "./swap-log.js";
export { encodeTrainedUids, decodeTrainedUids } from "./trained-uids.js";
export { BatchAttempts, type Attempt } from "./attempts.js";
