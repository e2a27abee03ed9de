// Public entry of @lspo/tasks.
export {};
export { ModelDirError, readModelDir, writeModelDir } from "./model-dir.js";
