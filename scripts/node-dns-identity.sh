#!/usr/bin/env bash
# The test node's DNS (scripts/node_dns.py) reads Services through the API server with this
# identity rather than the cluster's admin certificate: any pod can make it send a request, so
# what that request may do is bounded by ClusterRole regstack:node-dns (get and list Services
# and Endpoints, nothing else: no Secrets, no proxy subresources, no writes).
#   scripts/node-dns-identity.sh PKI_DIR KUBECONFIG OUT_DIR
# PKI_DIR: the cluster's (scripts/cluster.sh: <data>/pki, with ca.crt and ca.key); KUBECONFIG: an
# admin's, to apply the RBAC objects; OUT_DIR gets client.crt and client.key (user
# regstack:node-dns, in no group), valid as long as the cluster's other certificates (30 days).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pki="$1" kubeconfig="$2" out="$3"
USER_NAME=regstack:node-dns

mkdir -p "$out"
(
  cd "$out"
  umask 077
  openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj "/CN=$USER_NAME" 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' > client.ext
  openssl x509 -req -in client.csr -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -CAserial ca.srl -days 30 -extfile client.ext -out client.crt 2>/dev/null
  rm -f client.csr client.ext ca.srl
)

"$(bash "$ROOT/scripts/toolchain.sh" --bin-dir)/kubectl" --kubeconfig "$kubeconfig" apply -f - >/dev/null <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: "$USER_NAME"
  labels: {app.kubernetes.io/part-of: regstack-test-node}
rules:
  - apiGroups: [""]
    resources: [services, endpoints]
    verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: "$USER_NAME"
  labels: {app.kubernetes.io/part-of: regstack-test-node}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "$USER_NAME"}
subjects:
  - {apiGroup: rbac.authorization.k8s.io, kind: User, name: "$USER_NAME"}
YAML
