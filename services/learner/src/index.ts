// Public entry of @lspo/learner.
export {};
