// Public entry of @lspo/algos.
export {};
