// Public entry of @lspo/lspo.
export {};
