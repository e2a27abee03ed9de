// Public entry of @lspo/verifier: the verifier service (rollout groups -> verified groups).
export { runVerifier, type VerifierCounters } from "./main.js";
export { scoreGroup, type ScoreOptions } from "./score.js";
