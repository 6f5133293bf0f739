#!/usr/bin/env bash
# A throwaway Kubernetes control plane on 127.0.0.1 for end-to-end tests:
# etcd + kube-apiserver (+ kube-controller-manager for namespace deletion and
# garbage collection), all built by scripts/toolchain.sh, with the real CRDs of
# cert-manager and the Prometheus Operator and a real cert-manager controller
# (scripts/cert-manager.sh) issuing certificates. By default no kubelet, so pods never run;
# API objects (Namespaces, ConfigMaps, Deployments, CRs...) do. With REGSTACK_NODE=1 it also
# starts a real node (scripts/node.sh: kubelet, kube-proxy, kube-scheduler, containerd) and
# every controller of kube-controller-manager, so Deployments, Jobs and CronJobs run pods.
#
#   scripts/cluster.sh up       start (no-op if already running), install the CRDs
#   scripts/cluster.sh down     stop every process it started, delete its state
#   scripts/cluster.sh status   exit 0 if it is up and ready
#   scripts/cluster.sh env      print shell exports (KUBECONFIG, ...)
#
# The CRDs are upstream's own manifests, from the Go module proxy at the versions in
# scripts/cluster-versions.env (`go mod download`), cached in ~/.cache/regstack/crds/<name>-<version>/.
# cert-manager's controller runs out-of-cluster with the kubeconfig of a user "cert-manager",
# leader election off; its webhook and cainjector do not run: the webhook only validates and
# defaults what the CRDs' schemas already check, and cainjector only fills CA bundles of webhook
# configurations and APIServices, which this cluster has none of.
#
# Environment:
#   REGSTACK_STATE       where the kubeconfig and the cluster's record go
#                        (default: <repo>/.regstack). The record points at the
#                        cluster's data directory, made with mktemp in $TMPDIR.
#   REGSTACK_NO_CONTROLLER_MANAGER=1   do not start kube-controller-manager
#   REGSTACK_NO_CERT_MANAGER=1         do not start (or build) cert-manager's controller
#   REGSTACK_NODE=1                    also start a node (scripts/node.sh) where pods run
#   REGSTACK_VENDOR, REGSTACK_CACHE    see scripts/cert-manager.sh
#
# Auth: RBAC on; the kubeconfig uses a client certificate of user "admin" in
# group system:masters; a static bearer token for the same identity is in
# <data>/admin.token (cluster.sh env exports it as REGSTACK_KUBE_TOKEN).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${REGSTACK_STATE:-$ROOT/.regstack}"
RECORD="$STATE/cluster.env"
KUBECONFIG_OUT="$STATE/kubeconfig"
CRD_CACHE="${REGSTACK_CACHE:-$HOME/.cache/regstack}/crds"
# shellcheck source=cluster-versions.env
source "$ROOT/scripts/cluster-versions.env"
# shellcheck source=processes.sh
source "$ROOT/scripts/processes.sh"
BIN="$(bash "$ROOT/scripts/toolchain.sh" --bin-dir)"

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }


PID_VARS=(ETCD_PID APISERVER_PID CM_PID CERT_MANAGER_PID)
load_record() {
  [[ -f "$RECORD" ]] || return 1
  # shellcheck disable=SC1090
  source "$RECORD"
  forget_foreign_pids "${PID_VARS[@]}"
}

api_get() { # PATH -> body on stdout, fails on HTTP error
  curl -fsS --max-time 5 --cacert "$DATA/pki/ca.crt" --cert "$DATA/pki/admin.crt" \
    --key "$DATA/pki/admin.key" "https://127.0.0.1:$API_PORT$1"
}

is_ready() {
  load_record || return 1
  alive "$ETCD_PID" && alive "$APISERVER_PID" && api_get /readyz >/dev/null 2>&1
}

gen_pki() {
  local p="$DATA/pki"
  mkdir -p "$p"
  (
    cd "$p"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 \
      -subj "/CN=regstack-test-ca" 2>/dev/null
    cat > server.ext <<'EOF'
subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.0.0.1
extendedKeyUsage=serverAuth
EOF
    echo "extendedKeyUsage=clientAuth" > client.ext
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
      -subj "/CN=kube-apiserver" 2>/dev/null
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
      -extfile server.ext -out apiserver.crt 2>/dev/null
    local who
    for who in admin controller-manager cert-manager; do
      openssl req -newkey rsa:2048 -nodes -keyout "$who.key" -out "$who.csr" \
        -subj "/O=system:masters/CN=$who" 2>/dev/null
      openssl x509 -req -in "$who.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
        -extfile client.ext -out "$who.crt" 2>/dev/null
    done
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    rm -f ./*.csr ./*.ext
  )
  python3 -c 'import secrets; print(secrets.token_hex(24))' > "$DATA/admin.token"
  printf '%s,admin,admin,system:masters\n' "$(cat "$DATA/admin.token")" > "$p/tokens.csv"
}

write_kubeconfig() { # OUT USER
  local out="$1" who="$2"
  cat > "$out" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: regstack
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(base64 -w0 < "$DATA/pki/ca.crt")
users:
- name: $who
  user:
    client-certificate-data: $(base64 -w0 < "$DATA/pki/$who.crt")
    client-key-data: $(base64 -w0 < "$DATA/pki/$who.key")
contexts:
- name: regstack
  context:
    cluster: regstack
    user: $who
current-context: regstack
EOF
  chmod 600 "$out"
}

start_bg() { # NAME CMD... ; echoes pid. Detached from our session so it outlives us.
  local name="$1"
  shift
  setsid "$@" >"$DATA/$name.log" 2>&1 < /dev/null &
  echo $!
}

wait_for() { # DESCRIPTION TIMEOUT_S PID CMD...
  local what="$1" timeout="$2" pid="$3"
  shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    alive "$pid" || return 1
    ((SECONDS < deadline)) || { log "timed out waiting for $what"; return 1; }
    sleep 0.3
  done
}

cmd_up() {
  if is_ready; then
    if [[ "${REGSTACK_NODE:-}" != 1 ]]; then
      log "already up: $KUBECONFIG_OUT (data $DATA)"
      return 0
    fi
    # A node needs the API server's advertised address and every controller: a cluster
    # started without one is restarted.
    if [[ "${NODE:-}" == 1 ]]; then
      bash "$ROOT/scripts/node.sh" up
      log "already up: $KUBECONFIG_OUT (data $DATA)"
      return 0
    fi
    log "up without a node: restarting it with one"
  fi
  [[ -f "$RECORD" ]] && cmd_down >/dev/null 2>&1 || true
  local b
  for b in etcd kube-apiserver; do
    [[ -x "$BIN/$b" ]] || die "$BIN/$b is missing: run 'make toolchain' (scripts/toolchain.sh) first"
  done
  mkdir -p "$STATE"
  DATA="$(mktemp -d "${TMPDIR:-/tmp}/regstack-cluster.XXXXXX")"
  read -r ETCD_PORT ETCD_PEER_PORT API_PORT CM_PORT < <(free_ports 4)
  ETCD_PID="" APISERVER_PID="" CM_PID="" CERT_MANAGER_PID="" NODE="${REGSTACK_NODE:-}"
  # Pods reach the API server through the `kubernetes` Service, whose endpoint is this address:
  # with a node, the node's own address, where scripts/node.sh forwards to 127.0.0.1.
  local advertise=127.0.0.1 controllers=namespace,garbagecollector,serviceaccount,serviceaccount-token,pvc-protection
  local egress=()
  if [[ "$NODE" == 1 ]]; then
    advertise=10.213.0.2 controllers='*'
    # The API server's own connections into the cluster (kubelet logs/exec, proxies) go as
    # HTTP CONNECT to scripts/node.sh's forwarder, which dials them inside the node's network
    # namespace: the host never routes the node's addresses (they would leave the machine).
    cat > "$DATA/egress.yaml" <<EOF
apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
- name: cluster
  connection:
    proxyProtocol: HTTPConnect
    transport: {uds: {udsName: $DATA/node-egress.sock}}
EOF
    egress=(--egress-selector-config-file "$DATA/egress.yaml" --kubelet-preferred-address-types InternalIP
      --kubelet-client-certificate "$DATA/pki/admin.crt" --kubelet-client-key "$DATA/pki/admin.key")
  fi
  save_record
  gen_pki

  ETCD_PID="$(start_bg etcd "$BIN/etcd" --name regstack --data-dir "$DATA/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "regstack=http://127.0.0.1:$ETCD_PEER_PORT" \
    --listen-metrics-urls "" --unsafe-no-fsync --log-level warn)"
  save_record
  wait_for etcd 30 "$ETCD_PID" curl -fsS "http://127.0.0.1:$ETCD_PORT/health" \
    || { tail -n 30 "$DATA/etcd.log" >&2; cmd_down; die "etcd did not start"; }

  local p="$DATA/pki"
  APISERVER_PID="$(start_bg kube-apiserver "$BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address "$advertise" --secure-port "$API_PORT" \
    --tls-cert-file "$p/apiserver.crt" --tls-private-key-file "$p/apiserver.key" \
    --client-ca-file "$p/ca.crt" --token-auth-file "$p/tokens.csv" \
    --authorization-mode RBAC --anonymous-auth=false \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$p/sa.pub" --service-account-signing-key-file "$p/sa.key" \
    --service-cluster-ip-range 10.0.0.0/24 --allow-privileged=true \
    --enable-priority-and-fairness=false --profiling=false \
    --cert-dir "$DATA/apiserver-certs" "${egress[@]}")"
  save_record
  wait_for kube-apiserver 120 "$APISERVER_PID" api_get /readyz \
    || { tail -n 40 "$DATA/kube-apiserver.log" >&2; cmd_down; die "kube-apiserver did not become ready"; }
  write_kubeconfig "$KUBECONFIG_OUT" admin

  if [[ -x "$BIN/kube-controller-manager" && -z "${REGSTACK_NO_CONTROLLER_MANAGER:-}" ]]; then
    write_kubeconfig "$DATA/controller-manager.kubeconfig" controller-manager
    CM_PID="$(start_bg kube-controller-manager "$BIN/kube-controller-manager" \
      --kubeconfig "$DATA/controller-manager.kubeconfig" \
      --authentication-kubeconfig "$DATA/controller-manager.kubeconfig" \
      --authorization-kubeconfig "$DATA/controller-manager.kubeconfig" \
      --bind-address 127.0.0.1 --secure-port "$CM_PORT" --cert-dir "$DATA/cm-certs" \
      --leader-elect=false --use-service-account-credentials=false \
      --controllers "$controllers" \
      --service-account-private-key-file "$p/sa.key" --root-ca-file "$p/ca.crt" \
      --concurrent-namespace-syncs 5 --namespace-sync-period 10s)"
    save_record
  else
    log "kube-controller-manager not started: Namespaces will stay Terminating on delete"
  fi

  install_crds
  start_cert_manager
  if [[ "$NODE" == 1 ]]; then
    bash "$ROOT/scripts/node.sh" up || { cmd_down; die "the node did not start"; }
  fi
  log "up: kubeconfig $KUBECONFIG_OUT, API https://127.0.0.1:$API_PORT, data $DATA"
}

save_record() {
  mkdir -p "$STATE"
  cat > "$RECORD" <<EOF
DATA=$DATA
ETCD_PORT=$ETCD_PORT
ETCD_PEER_PORT=$ETCD_PEER_PORT
API_PORT=$API_PORT
CM_PORT=$CM_PORT
KUBECONFIG_PATH=$KUBECONFIG_OUT
NODE=${NODE:-}
$(record_pids "${PID_VARS[@]}")
EOF
}

# crd_dir NAME MODULE SUBDIR VERSION [FILE...]: the module's CRD manifests (all, or these
# files), fetched once into the cache.
crd_dir() {
  local name="$1" module="$2" subdir="$3" version="$4"
  shift 4
  local dir="$CRD_CACHE/$name-$version" src tmp files=()
  if [[ ! -f "$dir/.complete" ]]; then
    src="$(go mod download -json "$module@$version" | python3 -c \
      'import json,sys; d=json.load(sys.stdin); print(d.get("Dir") or sys.exit(d.get("Error")))')"
    if (($#)); then files=("${@/#/$src/$subdir/}"); else files=("$src/$subdir"/*.yaml); fi
    mkdir -p "$CRD_CACHE"
    # Into place in one rename, so a concurrent `up` never reads half a directory.
    tmp="$(mktemp -d "$CRD_CACHE/.$name.XXXXXX")"
    cp "${files[@]}" "$tmp/" || { rm -rf "$tmp"; die "cannot copy the CRDs of $module@$version"; }
    chmod 755 "$tmp"
    chmod 644 "$tmp"/*.yaml
    touch "$tmp/.complete"
    mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
  fi
  echo "$dir"
}

install_crds() {
  [[ -x "$BIN/kubectl" ]] || die "kubectl missing from $BIN: needed to install the CRDs"
  local k=("$BIN/kubectl" --kubeconfig "$KUBECONFIG_OUT") dirs dir
  dirs=(
    "$(crd_dir cert-manager github.com/cert-manager/cert-manager deploy/crds "$CERT_MANAGER_VERSION")"
    # Only the kinds regstack and Harbor's chart create: the Prometheus, Alertmanager and
    # ThanosRuler CRDs are 0.5-0.8 MB each and cost the API server seconds of CPU to publish.
    "$(crd_dir prometheus-operator github.com/prometheus-operator/prometheus-operator \
      example/prometheus-operator-crd "$PROMETHEUS_OPERATOR_VERSION" \
      monitoring.coreos.com_{servicemonitors,podmonitors,prometheusrules}.yaml)"
  )
  for dir in "${dirs[@]}"; do
    # Server-side: the largest CRDs exceed the size limit of client-side apply's annotation.
    "${k[@]}" apply --server-side -f "$dir" >/dev/null
  done
  for dir in "${dirs[@]}"; do
    "${k[@]}" wait --for condition=Established --timeout 60s -f "$dir" >/dev/null
  done
}

start_cert_manager() {
  [[ -z "${REGSTACK_NO_CERT_MANAGER:-}" ]] || { log "cert-manager not started: no certificate is issued"; return 0; }
  local binary metrics healthz
  binary="$(bash "$ROOT/scripts/cert-manager.sh" build)"
  write_kubeconfig "$DATA/cert-manager.kubeconfig" cert-manager
  read -r metrics healthz < <(free_ports 2)
  # Its defaults listen on every interface (0.0.0.0:9402, :9403): loopback only here.
  CERT_MANAGER_PID="$(start_bg cert-manager "$binary" \
    --kubeconfig "$DATA/cert-manager.kubeconfig" --leader-elect=false \
    --cluster-resource-namespace kube-system \
    --metrics-listen-address "127.0.0.1:$metrics" \
    --internal-healthz-listen-address "127.0.0.1:$healthz" --v 2)"
  save_record
  wait_for cert-manager 60 "$CERT_MANAGER_PID" curl -fsS "http://127.0.0.1:$healthz/livez" \
    || { tail -n 30 "$DATA/cert-manager.log" >&2; cmd_down; die "cert-manager did not start"; }
}

cmd_down() {
  if ! load_record; then
    log "not running (no $RECORD)"
    return 0
  fi
  # Before the API server: the node drops its objects through it.
  bash "$ROOT/scripts/node.sh" down
  stop_pid "${CERT_MANAGER_PID:-}" cert-manager
  stop_pid "${CM_PID:-}" kube-controller-manager
  stop_pid "${APISERVER_PID:-}" kube-apiserver
  stop_pid "${ETCD_PID:-}" etcd
  # Only delete what we made: a mktemp directory of ours.
  if [[ -n "${DATA:-}" && -d "$DATA" && "$(basename "$DATA")" == regstack-cluster.* ]]; then
    rm -rf "$DATA"
  fi
  rm -f "$RECORD" "$KUBECONFIG_OUT"
  log "down"
}

cmd_status() {
  if is_ready; then
    echo "up: https://127.0.0.1:$API_PORT kubeconfig=$KUBECONFIG_OUT data=$DATA"
    echo "  etcd pid $ETCD_PID, kube-apiserver pid $APISERVER_PID, kube-controller-manager pid ${CM_PID:-none}, cert-manager pid ${CERT_MANAGER_PID:-none}"
    return 0
  fi
  echo "down"
  return 1
}

cmd_env() {
  is_ready || die "cluster is not up"
  echo "export KUBECONFIG=$KUBECONFIG_OUT"
  echo "export REGSTACK_KUBE_API=https://127.0.0.1:$API_PORT"
  echo "export REGSTACK_KUBE_TOKEN=$(cat "$DATA/admin.token")"
  echo "export REGSTACK_KUBE_CA=$DATA/pki/ca.crt"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *) echo "usage: $0 up|down|status|env" >&2; exit 2 ;;
esac
