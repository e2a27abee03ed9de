// Public entry of @lspo/tasks.
export {};
