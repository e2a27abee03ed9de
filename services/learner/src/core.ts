// In-process entry of @lspo/learner: the update step without the service's gRPC/NATS wiring, for tools that
// run the learner's model code in one process (bench/gpu's provider check, bench/rl-probe).
export { LearnerConfigError, LearnerCore, type LearnerOptions, NonFiniteUpdateError, oldLogprobsSource, type UpdateRecord } from "./learner-core.js";
export { type MiniBatch, microBatchRows, miniBatchGroups, planUpdate, UpdatePlanError } from "./update-plan.js";
export { buildTrainingRows, BatchShapeError, type TrainingRows } from "./batch-tensors.js";
