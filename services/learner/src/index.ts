// Public entry of @lspo/learner: the learner service and its parts.
export { runLearner } from "./main.js";
export { LearnerCore, type LearnerOptions, type UpdateRecord } from "./learner-core.js";
export { buildTrainingRows, BatchShapeError, type TrainingRows } from "./batch-tensors.js";
export { writeCheckpoint, loadCheckpoint, latestValidCheckpoint, listCheckpoints, CheckpointError, type CheckpointState, type LoadedCheckpoint } from "./checkpoint.js";
export { WeightsPublisher } from "./weights-publisher.js";
export { encodeTrainedUids, decodeTrainedUids } from "./trained-uids.js";
export { BatchAttempts, type Attempt } from "./attempts.js";
