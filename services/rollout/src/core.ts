// In-process entry of @lspo/rollout: the policy and group generation without the service's gRPC/NATS wiring,
// for tools that run the actor's model code in one process (bench/gpu's provider check).
export { Policy, WeightsFollower, type PolicyOptions } from "./policy.js";
export { generateGroups, groupStreams, seedFor, promptIdsOf, type GroupOptions } from "./groups.js";
