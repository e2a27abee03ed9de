// Public entry of @lspo/controller.
export {};
