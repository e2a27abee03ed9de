// Public entry of @lspo/actors: the Ray-like actor runtime over NATS (registry, heartbeats) and gRPC
// (serving, typed handles), the node agent and placement.
export { ActorNotFoundError, PlacementError, ActorCallError } from "./errors.js";
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
export { ActorRegistry, isLive, HEARTBEAT_MS, STALE_AFTER_MS } from "./registry.js";
export { actorHandle, type ActorHandle } from "./handle.js";
export { serveActor, type ActorOptions, type ServedActor } from "./actor.js";
export { busOptionsFor, grpcSecurityFrom, type GrpcSecurity } from "./security.js";
export { NodeAgent, MAX_ACTORS_PER_REQUEST, type NodeAgentOptions, type ActorLauncher, type LaunchSpec } from "./node-agent.js";
export { planPlacement, placeActors, type PlacementRequest } from "./placement.js";
export {
  createServiceContext, configFromEnvOrArgs, runSubjects, type ServiceContext, type RunSubjects,
} from "./service-context.js";
