#!/usr/bin/env bash
# Makes every secret lspo needs, fresh and random, for compose and for Kubernetes (docs/KUBERNETES.md "Secrets").
# One set of credentials per identity, so that a leaked pod gives away only its own component's rights and
# one identity can be rotated alone.
#
#   deploy/make-secrets.sh [OUT_DIR] [NAMESPACE]     (defaults: deploy/secrets, lspo)
#
# Identities: rollout verifier sampler learner controller operator (operator: a person running
# `lspo swap-algorithm` or `lspo status` from outside; no workload uses it).
# OUT_DIR/ (git-ignored; keep it out of version control and out of images):
#   nats-users/<identity>       one NATS password per identity
#   nats.env                    the same passwords as LSPO_NATS_<IDENTITY>_PASSWORD=..., for nats-server (compose)
#   tls/ca.crt, tls/ca.key      a private CA for this deployment
#   tls/nats.crt, tls/nats.key  nats-server certificate (client and cluster-route TLS)
#   tls/<identity>.crt, .key    the identity's gRPC certificate (server and mTLS client), URI SAN spiffe://lspo/<identity>
#   grpc-tokens/<identity>      the identity's bearer token for gRPC control calls
#   grpc-token-digests          "<identity> <sha256 hex of its token>" per line: what servers check tokens against
#   k8s-secrets.yaml            the Kubernetes Secrets built from the files above: kubectl apply -f it
# Needs bash, openssl and base64. Refuses to overwrite an existing OUT_DIR (docs/KUBERNETES.md "Rotation").
set -euo pipefail

out="${1:-$(dirname "$0")/secrets}"
ns="${2:-lspo}"
identities=(rollout verifier sampler learner controller operator)

if [[ -e "$out" ]]; then
  echo "make-secrets: $out already exists; remove it or pass another directory" >&2
  exit 1
fi
command -v openssl >/dev/null || { echo "make-secrets: openssl not found on PATH" >&2; exit 1; }
# Directories 0700 keep the secrets private on the host; files 0644 so that compose's bind-mounted secrets
# are readable by the containers' non-root user (uid 10001), which cannot see the host directories.
umask 022
mkdir -p "$out/nats-users" "$out/grpc-tokens" "$out/tls"
chmod 0700 "$out" "$out/nats-users" "$out/grpc-tokens" "$out/tls"

# 32 random bytes as hex behind a letter: nats-server parses an environment variable's value as a config
# value, so a secret must never read as a number ("12K" is 12288) or a keyword; hex after "p" never does.
random_secret() { printf 'p%s' "$(openssl rand -hex 32)"; }

# Servers hold only the tokens' digests, so a server's files never let it call another as someone else.
: >"$out/nats.env"
: >"$out/grpc-token-digests"
for id in "${identities[@]}"; do
  random_secret >"$out/nats-users/$id"
  printf 'LSPO_NATS_%s_PASSWORD=%s\n' "${id^^}" "$(cat "$out/nats-users/$id")" >>"$out/nats.env"
  random_secret >"$out/grpc-tokens/$id"
  printf '%s %s\n' "$id" "$(openssl dgst -sha256 -r <"$out/grpc-tokens/$id" | cut -d' ' -f1)" >>"$out/grpc-token-digests"
done

# CA, then leaf certificates signed by it. serverAuth+clientAuth: NATS routes and gRPC mTLS use the same
# certificate on both ends.
openssl req -x509 -newkey rsa:3072 -sha256 -days 825 -nodes -subj "/CN=lspo-ca" \
  -keyout "$out/tls/ca.key" -out "$out/tls/ca.crt" 2>/dev/null
leaf() { # name, subject CN, subjectAltName
  local name="$1" cn="$2" san="$3"
  openssl req -newkey rsa:3072 -sha256 -nodes -subj "/CN=$cn" \
    -keyout "$out/tls/$name.key" -out "$out/tls/$name.csr" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\nbasicConstraints=CA:FALSE\n' "$san" \
    >"$out/tls/$name.ext"
  openssl x509 -req -sha256 -days 825 -in "$out/tls/$name.csr" -CA "$out/tls/ca.crt" -CAkey "$out/tls/ca.key" \
    -CAcreateserial -extfile "$out/tls/$name.ext" -out "$out/tls/$name.crt" 2>/dev/null
  rm -f "$out/tls/$name.csr" "$out/tls/$name.ext"
}
svc="$ns.svc.cluster.local"
leaf nats lspo-nats "DNS:lspo-nats,DNS:lspo-nats.$ns,DNS:lspo-nats.$ns.svc,DNS:lspo-nats.$svc,DNS:*.lspo-nats-headless.$svc,DNS:*.lspo-nats-headless.$ns.svc,DNS:localhost,IP:127.0.0.1"
# The URI SAN is the identity: a client checks that the server it dials holds the kind it means to call,
# and a server reads its caller's identity from the client certificate. gRPC peers are found by address in
# the actor registry (pod IPs), so clients verify the fixed name "lspo" (TLS target-name override) against
# this CA; the Service names are there for direct use and port-forwards (the agent DaemonSet is rollout's).
service_names() { # identity -> the Service/workload names its pods answer to
  case "$1" in
    rollout) echo "rollout agent" ;;
    operator) ;;
    *) echo "$1" ;;
  esac
}
for id in "${identities[@]}"; do
  san="URI:spiffe://lspo/$id,DNS:lspo,DNS:localhost,IP:127.0.0.1"
  for s in $(service_names "$id"); do
    san="$san,DNS:lspo-$s,DNS:lspo-$s.$ns,DNS:lspo-$s.$ns.svc,DNS:lspo-$s.$svc"
  done
  leaf "$id" "lspo-$id" "$san"
  # openssl writes keys 0600; compose bind-mounts this file into a container running as another uid (the
  # 0700 directory keeps it private on the host). The CA's and NATS' keys are mounted by no lspo container.
  chmod 0644 "$out/tls/$id.key"
done
rm -f "$out/tls/ca.srl"

# Kubernetes Secrets (names and keys are what k8s/ references; test/k8s/secrets.test.ts checks both).
b64() { base64 -w0 <"$1"; }
secret() { # name, type: the header; data lines follow
  printf -- '---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\ntype: %s\ndata:\n' "$1" "$ns" "$2"
}
{
  secret lspo-nats-users Opaque
  for id in "${identities[@]}"; do printf '  %s: %s\n' "$id" "$(b64 "$out/nats-users/$id")"; done
  secret lspo-nats-tls kubernetes.io/tls
  printf '  tls.crt: %s\n  tls.key: %s\n  ca.crt: %s\n' "$(b64 "$out/tls/nats.crt")" "$(b64 "$out/tls/nats.key")" "$(b64 "$out/tls/ca.crt")"
  # Everything one identity holds in one Secret, so that a workload mounts only its own.
  for id in "${identities[@]}"; do
    secret "lspo-grpc-$id" Opaque
    printf '  tls.crt: %s\n  tls.key: %s\n  ca.crt: %s\n  token: %s\n' \
      "$(b64 "$out/tls/$id.crt")" "$(b64 "$out/tls/$id.key")" "$(b64 "$out/tls/ca.crt")" "$(b64 "$out/grpc-tokens/$id")"
  done
  secret lspo-grpc-token-digests Opaque
  printf '  digests: %s\n' "$(b64 "$out/grpc-token-digests")"
} >"$out/k8s-secrets.yaml"

echo "make-secrets: wrote $out (namespace $ns). Kubernetes: kubectl apply -f $out/k8s-secrets.yaml" >&2
