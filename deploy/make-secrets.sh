#!/usr/bin/env bash
# Makes every secret lspo needs, fresh and random, for compose and for Kubernetes (docs/KUBERNETES.md "Secrets").
#
#   deploy/make-secrets.sh [OUT_DIR] [NAMESPACE]     (defaults: deploy/secrets, lspo)
#
# OUT_DIR/ (git-ignored; keep it out of version control and out of images):
#   nats-users/<user>           one password per NATS identity (rollout verifier sampler learner controller)
#   nats.env                    the same passwords as LSPO_NATS_<USER>_PASSWORD=..., for nats-server (compose)
#   grpc-token                  bearer token for gRPC control calls (swap algorithm, sampler config, checkpoint)
#   tls/ca.crt, tls/ca.key      a private CA for this deployment
#   tls/nats.crt, tls/nats.key  nats-server certificate (client and cluster-route TLS)
#   tls/grpc.crt, tls/grpc.key  certificate every lspo gRPC server presents (and uses as client for mTLS)
#   k8s-secrets.yaml            the Kubernetes Secrets built from the files above: kubectl apply -f it
# Needs bash, openssl and base64. Refuses to overwrite an existing OUT_DIR (rotate by making a new one).
set -euo pipefail

out="${1:-$(dirname "$0")/secrets}"
ns="${2:-lspo}"
users=(rollout verifier sampler learner controller)

if [[ -e "$out" ]]; then
  echo "make-secrets: $out already exists; remove it or pass another directory" >&2
  exit 1
fi
command -v openssl >/dev/null || { echo "make-secrets: openssl not found on PATH" >&2; exit 1; }
# Directories 0700 keep the secrets private on the host; files 0644 so that compose's bind-mounted secrets
# are readable by the containers' non-root user (uid 10001), which cannot see the host directories.
umask 022
mkdir -p "$out/nats-users" "$out/tls"
chmod 0700 "$out" "$out/nats-users" "$out/tls"

# 32 random bytes as hex behind a letter: nats-server parses an environment variable's value as a config
# value, so a secret must never read as a number ("12K" is 12288) or a keyword; hex after "p" never does.
random_secret() { printf 'p%s' "$(openssl rand -hex 32)"; }

: >"$out/nats.env"
for u in "${users[@]}"; do
  random_secret >"$out/nats-users/$u"
  printf 'LSPO_NATS_%s_PASSWORD=%s\n' "${u^^}" "$(cat "$out/nats-users/$u")" >>"$out/nats.env"
done
random_secret >"$out/grpc-token"

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
# gRPC peers are found by address in the actor registry (pod IPs), so clients verify the fixed name "lspo"
# (TLS target-name override) against this CA; the Service names are there for direct use and port-forwards.
grpc_san="DNS:lspo,DNS:localhost,IP:127.0.0.1"
for s in rollout verifier sampler learner controller agent; do
  grpc_san="$grpc_san,DNS:lspo-$s,DNS:lspo-$s.$ns,DNS:lspo-$s.$ns.svc,DNS:lspo-$s.$svc"
done
leaf grpc lspo "$grpc_san"
rm -f "$out/tls/ca.srl"

# Kubernetes Secrets (names and keys are what k8s/ references; test/k8s/secrets.test.ts checks both).
b64() { base64 -w0 <"$1"; }
{
  printf -- '---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: lspo-nats-users\n  namespace: %s\ntype: Opaque\ndata:\n' "$ns"
  for u in "${users[@]}"; do printf '  %s: %s\n' "$u" "$(b64 "$out/nats-users/$u")"; done
  for pair in "lspo-nats-tls:nats" "lspo-grpc-tls:grpc"; do
    name="${pair%%:*}" leafname="${pair##*:}"
    printf -- '---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\ntype: kubernetes.io/tls\ndata:\n' "$name" "$ns"
    printf '  tls.crt: %s\n  tls.key: %s\n  ca.crt: %s\n' \
      "$(b64 "$out/tls/$leafname.crt")" "$(b64 "$out/tls/$leafname.key")" "$(b64 "$out/tls/ca.crt")"
  done
  printf -- '---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: lspo-grpc-token\n  namespace: %s\ntype: Opaque\ndata:\n  token: %s\n' \
    "$ns" "$(b64 "$out/grpc-token")"
} >"$out/k8s-secrets.yaml"

echo "make-secrets: wrote $out (namespace $ns). Kubernetes: kubectl apply -f $out/k8s-secrets.yaml" >&2
