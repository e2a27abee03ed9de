// Public entry of @lspo/verifier.
export {};
