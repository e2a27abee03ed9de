// Public entry of @lspo/rollout.
export {};
