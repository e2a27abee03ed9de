// Public entry of @lspo/actors: the Ray-like actor runtime over NATS (registry, heartbeats) and gRPC
// (serving, typed handles), the node agent and placement.
export { ActorNotFoundError, PlacementError, ActorCallError } from "./errors.js";
export { SerialQueue } from "./serial.js";
export {
  startGrpcServer,
  unary,
  invalidArgument,
  invalidMessage,
  GrpcStatusError,
  type ServiceBinding,
  type GrpcServerOptions,
  type RunningServer,
  type TlsFiles,
} from "./grpc-server.js";
export { connectClient, credentialsFor, type TypedClient, type UnaryCalls, type CallOpts, type ClientOptions } from "./grpc-client.js";
export { ActorRegistry, resolveIn, HEARTBEAT_MS, STALE_AFTER_MS, RECORD_TTL_MS, type RegistryOptions } from "./registry.js";
export { RegistryView, type ViewEntry } from "./registry-view.js";
export { checkRunId, actorKey, nodeKey, parseKey } from "./registry-keys.js";
export { advertisedHost, type AdvertiseInputs, type InterfaceTable } from "./advertise.js";
export { watchParent, agentPidFromEnv, PARENT_CHECK_MS } from "./parent-watch.js";
export { actorHandle, type ActorHandle } from "./handle.js";
export { serveActor, type ActorOptions, type ServedActor } from "./actor.js";
export { busOptionsFor, grpcSecurityFrom, registryIdentityOf, type GrpcSecurity } from "./security.js";
export {
  IDENTITIES, METHOD_GROUPS, identityUri, identityInSan, identityOfCertFile, identitiesFor, groupOfMethod, kindOfService,
  agentMayRun, tokenDigest, parseTokenDigests, type Identity, type MethodGroup,
} from "./identity.js";
export { NodeAgent, MAX_ACTORS_PER_REQUEST, type NodeAgentOptions, type ActorLauncher, type LaunchSpec } from "./node-agent.js";
export { parseLabels } from "./labels.js";
export { detectGpus, type DetectedGpus } from "./gpus.js";
export { planPlacement, placeActors, stopActors, fenceAgents, matchesSelector, type PlacementRequest } from "./placement.js";
export { AgentFence, compareTokens } from "./fence.js";
export {
  createServiceContext, configFromEnvOrArgs, runSubjects, type ServiceContext, type RunSubjects,
} from "./service-context.js";
export { pipelineConsumer, PIPELINE_STAGES, type PipelineStage, type PipelineConsumer } from "./pipeline-consumers.js";
export { Reconciler, observe, type ReconcilerOptions, type ReconcileEvent } from "./reconciler.js";
export {
  planReconcile, deadNodes, silenceOf, backoffMs, DEFAULT_NODE_DEAD_AFTER_MS,
  type DesiredActor, type Decision, type Observation, type ObservedActor, type ObservedNode, type PlanOptions,
} from "./reconcile-plan.js";
export { defineActor, definedActor, definedKinds, type ActorSpec, type DefinedActor, type Handlers } from "./define.js";
