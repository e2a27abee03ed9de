// Public entry of @lspo/actors.
export {};
