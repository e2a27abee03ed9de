// Public entry of @lspo/rollout: the rollout actor service.
export { runRollout } from "./main.js";
export { Policy, REFUSED_POLL_MS, RefusedWeightsError, WeightsFollower, type PolicyOptions, stopTokenIds } from "./policy.js";
export { generateGroups, groupStreams, seedFor, promptIdsOf, type GroupOptions } from "./groups.js";
