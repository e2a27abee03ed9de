// Public entry of @lspo/bus.
export {};
