// Public entry of @lspo/telemetry.
export {};
