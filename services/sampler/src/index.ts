// Public entry of @lspo/sampler.
export {};
