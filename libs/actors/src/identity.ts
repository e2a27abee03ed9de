// Who is who across hosts. Each deployment identity (a component, the controller, an operator) holds its own
// certificate from the deployment's CA, naming it in a URI SAN `spiffe://lspo/<identity>`, and its own
// bearer token, of which servers hold only SHA-256 digests. A client checks that the server it reached holds
// the identity the registry claims for that actor kind before it sends anything (the TLS handshake fails
// otherwise, so no request, and no token, ever leaves); a server reads the caller's identity from its client
// certificate and lets it call a method only when the method's group allows that identity and the token is
// that identity's own. A token taken from one process is useless without that identity's private key.
import { createHash, timingSafeEqual, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import type { PeerCertificate } from "node:tls";

export const IDENTITIES = ["rollout", "verifier", "sampler", "learner", "controller", "operator"] as const;
export type Identity = (typeof IDENTITIES)[number];

const URI_PREFIX = "spiffe://lspo/";

export const identityUri = (id: string) => `${URI_PREFIX}${id}`;

/** The lspo identity a certificate's subjectAltName string names ("URI:spiffe://lspo/learner, DNS:lspo"),
 *  or null when it names none. Two different identities in one certificate are refused. */
export function identityInSan(san: string | undefined): string | null {
  const found = new Set<string>();
  for (const part of (san ?? "").split(/,\s*/)) {
    if (part.startsWith(`URI:${URI_PREFIX}`)) found.add(part.slice(`URI:${URI_PREFIX}`.length));
  }
  if (found.size > 1) throw new Error(`a certificate names several lspo identities (${[...found].join(", ")}); it must name one`);
  return found.size ? [...found][0] : null;
}

/** The identity in a PEM certificate file, or null (a certificate without one: no per-identity checks). */
export function identityOfCertFile(path: string): string | null {
  try {
    return identityInSan(new X509Certificate(readFileSync(path)).subjectAltName);
  } catch (err) {
    throw new Error(`gRPC certificate ${path}: ${(err as Error).message}`);
  }
}

export function identityOfPeer(cert: PeerCertificate | null | undefined): string | null {
  if (!cert || !("subjectaltname" in cert)) return null;
  return identityInSan(cert.subjectaltname);
}

/**
 * Who may call what, by method group. Methods not listed read state (Status, Stats, ListActors): any caller
 * with a certificate from the deployment's CA, no token. Every listed method needs the caller's own token.
 */
export const METHOD_GROUPS = {
  /** Changing how the run trains: the controller, or an operator by hand (`lspo swap-algorithm`). */
  control: {
    identities: ["controller", "operator"],
    methods: ["/lspo.v1.LearnerService/SwapAlgorithm", "/lspo.v1.LearnerService/Checkpoint", "/lspo.v1.SamplerService/UpdateConfig"],
  },
  /** Starting and stopping processes on a node, and fencing a node's agent: the controller only (it places every actor). */
  placement: {
    identities: ["controller"],
    methods: ["/lspo.v1.NodeAgentService/StartActors", "/lspo.v1.NodeAgentService/StopActor", "/lspo.v1.NodeAgentService/Fence"],
  },
  /** Work done for the caller (evaluation generations, refills, a verification by hand). */
  drive: {
    identities: ["controller", "operator"],
    methods: ["/lspo.v1.RolloutService/Generate", "/lspo.v1.VerifierService/Verify", "/lspo.v1.SamplerService/Refill"],
  },
} as const satisfies Record<string, { identities: readonly Identity[]; methods: readonly string[] }>;

export type MethodGroup = keyof typeof METHOD_GROUPS | "read";

export function groupOfMethod(path: string): MethodGroup {
  for (const [group, g] of Object.entries(METHOD_GROUPS)) if ((g.methods as readonly string[]).includes(path)) return group as MethodGroup;
  return "read";
}

/** Identities that may call `path` (every identity for a read). */
export function identitiesFor(path: string): readonly string[] {
  const group = groupOfMethod(path);
  return group === "read" ? IDENTITIES : METHOD_GROUPS[group].identities;
}

/** The actor kind that serves a generated service definition (`/lspo.v1.LearnerService/...` -> learner),
 *  or undefined for a service that is not an actor kind's. */
export function kindOfService(definition: Record<string, { path: string }>): string | undefined {
  const first = Object.values(definition)[0]?.path ?? "";
  const m = /^\/lspo\.v1\.(Rollout|Verifier|Sampler|Learner|NodeAgent|Controller)Service\//.exec(first);
  if (!m || m[1] === "NodeAgent") return undefined;
  return m[1].toLowerCase();
}

/** Agents whose identity may run actors of `kind`: the kind's own (a Kubernetes node agent runs one kind,
 *  as that kind) or the controller's (`lspo train`'s in-process agent, which hands each kind its identity). */
export function agentMayRun(agentIdentity: string, kind: string): boolean {
  return agentIdentity === kind || agentIdentity === "controller";
}

export const tokenDigest = (token: string) => createHash("sha256").update(token.trim()).digest("hex");

/**
 * The digests file (deploy/make-secrets.sh's `grpc-token-digests`): `<identity> <sha256 hex>` per line, `#`
 * comments. A malformed line names its number; an unknown identity is refused.
 */
export function parseTokenDigests(text: string, where = "grpc-token-digests"): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const m = /^([A-Za-z0-9_-]+)\s+([0-9a-f]{64})$/.exec(line);
    if (!m) throw new Error(`${where}:${i + 1}: expected '<identity> <64 hex digits of the token's SHA-256>', got '${line.slice(0, 80)}'`);
    if (!(IDENTITIES as readonly string[]).includes(m[1])) throw new Error(`${where}:${i + 1}: unknown identity '${m[1]}' (known: ${IDENTITIES.join(", ")})`);
    out.set(m[1], Buffer.from(m[2], "hex"));
  });
  return out;
}

/** Whether `token` is `identity`'s own (constant time in the token's digest). */
export function tokenMatches(digests: ReadonlyMap<string, Buffer>, identity: string, token: string): boolean {
  const want = digests.get(identity);
  if (!want) return false;
  return timingSafeEqual(want, Buffer.from(tokenDigest(token), "hex"));
}
