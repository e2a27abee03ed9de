// Public entry of @lspo/config: the run configuration schema, loading, overrides and secrets.
export {
  RunConfigSchema, RunSchema, NatsSchema, SecuritySchema, BusSchema, ModelSchema, TaskSchema, RolloutSchema, VerifierSchema,
  SamplerSchema, LearnerSchema, EvalSchema, ClusterSchema, defaultMaxOffPolicySteps, type RunConfig,
} from "./schema.js";
export { ConfigError, resolveConfig, loadConfigFile, applyOverride, parseOverrideValue, formatIssues, readSecret } from "./load.js";
export { ENVIRONMENT, envEntry, type EnvName, type EnvNeed, type EnvSetter, type EnvVar } from "./environment.js";
