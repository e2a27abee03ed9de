// Every environment variable the code reads, in one table: what it means and who sets it. Kubernetes
// manifests and compose must agree with it both ways (test/k8s/environment.test.ts): they set nothing the
// code does not read, nothing only an agent may set, and everything a workload of theirs needs.
//   deploy     set by a deployment (manifests, compose) or an operator;
//   agent      set by a node agent for the actors it starts (a manifest setting it would be overwritten or lie);
//   local      single-host and test settings (`lspo train` on one machine, the test suites);
//   fault      fault injection for the chaos suites: never in a deployment.
// `needs` names the Kubernetes workloads that must set it: "all" (every lspo container), "agent" (node
// agents: `lspo agent`), "server" (every container that serves gRPC: agents and verifiers).

export type EnvSetter = "deploy" | "agent" | "local" | "fault";
export type EnvNeed = "all" | "agent" | "server";

export interface EnvVar {
  meaning: string;
  setBy: EnvSetter;
  needs?: EnvNeed;
  /** A secret's *file*: the value is a path, never the secret. */
  secretFile?: true;
}

export const ENVIRONMENT = {
  LSPO_NATS_URL: { meaning: "NATS address (tls://... on Kubernetes); the controller uses it instead of starting a NATS", setBy: "deploy", needs: "all" },
  LSPO_NATS_USER: { meaning: "this component's NATS user", setBy: "deploy", needs: "all" },
  LSPO_NATS_PASSWORD_FILE: { meaning: "file holding this component's NATS password", setBy: "deploy", needs: "all", secretFile: true },
  LSPO_NATS_PASSWORD: { meaning: "NATS password as a value (tests; deployments use the file)", setBy: "local" },
  LSPO_NATS_TOKEN: { meaning: "NATS token as a value (tests; deployments use the file)", setBy: "local" },
  LSPO_NATS_TOKEN_FILE: { meaning: "file holding a NATS token", setBy: "deploy", secretFile: true },
  LSPO_NATS_TLS_CA: { meaning: "CA that signed the NATS server certificate", setBy: "deploy", needs: "all" },
  LSPO_NATS_TLS_CERT: { meaning: "client certificate for NATS (when the server requires one)", setBy: "deploy" },
  LSPO_NATS_TLS_KEY: { meaning: "key of LSPO_NATS_TLS_CERT", setBy: "deploy", secretFile: true },
  LSPO_NATS_USER_: { meaning: "prefix: LSPO_NATS_USER_<KIND> is the NATS user of actors of that kind an agent starts", setBy: "deploy" },
  LSPO_NATS_PASSWORD_FILE_: { meaning: "prefix: LSPO_NATS_PASSWORD_FILE_<KIND>, their password file", setBy: "deploy", secretFile: true },
  LSPO_NATS_WAIT_S: { meaning: "seconds a process keeps trying its first NATS connection while the server is unreachable (pods start before NATS)", setBy: "deploy" },
  LSPO_NATS_SERVER: { meaning: "the nats-server binary an embedded NATS runs (single host)", setBy: "local" },
  LSPO_NATS_LISTEN_HOST: { meaning: "address an embedded NATS listens on (single host; default loopback)", setBy: "local" },
  LSPO_GRPC_TLS_CERT: { meaning: "this identity's gRPC TLS certificate, URI SAN spiffe://lspo/<identity> (mutual TLS with LSPO_GRPC_TLS_CA)", setBy: "deploy", needs: "all" },
  LSPO_GRPC_TLS_KEY: { meaning: "key of LSPO_GRPC_TLS_CERT", setBy: "deploy", needs: "all", secretFile: true },
  LSPO_GRPC_TLS_CA: { meaning: "CA gRPC peers are checked against", setBy: "deploy", needs: "all" },
  LSPO_GRPC_TLS_SERVER_NAME: { meaning: "name gRPC clients check server certificates against (peers are dialled by pod IP); default lspo", setBy: "deploy" },
  LSPO_GRPC_TOKEN_FILE: { meaning: "file holding this identity's bearer token for state-changing gRPC calls", setBy: "deploy", needs: "all", secretFile: true },
  LSPO_GRPC_TOKEN_DIGESTS_FILE: { meaning: "file of \"<identity> <sha256 hex of its token>\" lines: a server authorises callers per identity against it", setBy: "deploy", needs: "server", secretFile: true },
  LSPO_GRPC_TLS_CERT_: { meaning: "prefix: LSPO_GRPC_TLS_CERT_<KIND> is the gRPC certificate of actors of that kind an agent starts", setBy: "deploy" },
  LSPO_GRPC_TLS_KEY_: { meaning: "prefix: LSPO_GRPC_TLS_KEY_<KIND>, its key", setBy: "deploy", secretFile: true },
  LSPO_GRPC_TOKEN_FILE_: { meaning: "prefix: LSPO_GRPC_TOKEN_FILE_<KIND>, their token file", setBy: "deploy", secretFile: true },
  LSPO_GRPC_TOKEN: { meaning: "the control token as a value (tests; deployments use the file)", setBy: "local" },
  LSPO_GRPC_HOST: { meaning: "address a server binds and registers (the pod IP on Kubernetes)", setBy: "deploy", needs: "server" },
  LSPO_GRPC_PORT: { meaning: "port a server serves gRPC on (an agent sets its actors')", setBy: "deploy", needs: "server" },
  LSPO_ADVERTISE_HOST: { meaning: "address registered when a server binds every interface", setBy: "deploy" },
  LSPO_HEALTH_PORT: { meaning: "plaintext HTTP /healthz and /readyz for the kubelet (unset: none)", setBy: "deploy", needs: "all" },
  LSPO_METRICS_PORT: { meaning: "Prometheus /metrics port (an agent merges its actors'; unset: none)", setBy: "deploy", needs: "all" },
  LSPO_METRICS_HOST: { meaning: "address /metrics binds (an agent's actors: loopback)", setBy: "agent" },
  LSPO_DEVICE: { meaning: "cpu, webgpu or cuda: overrides model.device", setBy: "deploy" },
  LSPO_NODE_NAME: { meaning: "this agent's (or service's) node name in the actor registry: unique per agent (Kubernetes: the pod name)", setBy: "deploy", needs: "server" },
  LSPO_NODE_LABELS: { meaning: "a node agent's labels for cluster.placement.<kind>.nodeSelector (role=rollout)", setBy: "deploy", needs: "agent" },
  LSPO_AGENT_KINDS: { meaning: "actor kinds a node agent starts (its pod's NATS identity fits only these)", setBy: "deploy", needs: "agent" },
  LSPO_AGENT_CPUS: { meaning: "CPUs a node agent hands out (default: the machine's)", setBy: "deploy" },
  LSPO_GPU_IDS: { meaning: "GPU indices a node agent hands out; overrides NVIDIA_VISIBLE_DEVICES and /dev/nvidiaN", setBy: "deploy" },
  LSPO_ACTORS_PER_GPU: { meaning: "rollout slots per GPU of a node agent (in all, on a node without GPUs)", setBy: "deploy" },
  LSPO_ACTOR_PORT_BASE: { meaning: "actor k of a node agent serves gRPC on this + k (the range a NetworkPolicy opens)", setBy: "deploy", needs: "agent" },
  LSPO_DRAIN_S: { meaning: "seconds a node agent's actors get to finish on SIGTERM (under the pod's grace period)", setBy: "deploy", needs: "agent" },
  LSPO_STATE_DIR: { meaning: "where an actor keeps local state: the base model fetched from NATS, the learner's checkpoints", setBy: "deploy" },
  LSPO_RUN_ID: { meaning: "the run a node agent serves (else --run or run.name); set for actors", setBy: "deploy" },
  LSPO_LOG_LEVEL: { meaning: "log level (pino: debug, info, warn, error)", setBy: "deploy" },
  LSPO_THREADS: { meaning: "onnxruntime intra-op threads of an actor (its CPU share)", setBy: "agent" },
  LSPO_ACTOR_NAME: { meaning: "an actor's name in the registry: set by its agent; a verifier pod (its own workload) sets its pod name", setBy: "deploy" },
  LSPO_ACTOR_CONFIG: { meaning: "the run config an agent hands its actor (JSON)", setBy: "agent" },
  LSPO_ACTOR_RESTARTS: { meaning: "how often the agent has restarted this actor", setBy: "agent" },
  LSPO_AGENT_PID: { meaning: "the agent's pid: the actor exits when it is gone", setBy: "agent" },
  LSPO_DEBUG: { meaning: "extra diagnostics on stderr", setBy: "local" },
  LSPO_FAULT_CHECKPOINT_ENOSPC_FROM_STEP: { meaning: "chaos: checkpoints fail with ENOSPC from this step", setBy: "fault" },
  LSPO_FAULT_SAMPLER_KILL_AT_BATCH: { meaning: "chaos: the sampler kills itself after publishing this batch", setBy: "fault" },
  LSPO_FAULT_SAMPLER_THROW_UID: { meaning: "chaos: the sampler throws while judging this uid", setBy: "fault" },
} as const satisfies Record<string, EnvVar>;

export type EnvName = keyof typeof ENVIRONMENT;

/** The entry for a variable, prefixes (LSPO_NATS_USER_<KIND>) included; undefined when the code reads no such variable. */
export function envEntry(name: string): EnvVar | undefined {
  const table = ENVIRONMENT as Record<string, EnvVar>;
  if (table[name]) return table[name];
  const prefix = Object.keys(table).find((k) => k.endsWith("_") && name.startsWith(k));
  return prefix ? table[prefix] : undefined;
}
