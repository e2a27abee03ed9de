// Public entry of @lspo/model.
export {};
