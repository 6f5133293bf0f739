#!/usr/bin/env bash
# A real node for the test cluster of scripts/cluster.sh: kubelet, kube-proxy, kube-scheduler,
# Debian's containerd, runc and CNI plugins, so that pods run. `REGSTACK_NODE=1 scripts/cluster.sh up`
# starts it with the cluster; on its own it needs the cluster up.
#
#   scripts/node.sh up       start the node, wait until it is Ready (no-op if running)
#   scripts/node.sh down     stop everything it started, leave no process, mount, netns or cgroup
#   scripts/node.sh status   exit 0 if it runs and the node is Ready
#   scripts/node.sh env      print shell exports (REGSTACK_NODE_PID, ...)
#   scripts/node.sh exec CMD...   run CMD in the node's namespaces (network + mounts)
#   scripts/node.sh trust HOST:PORT CA_FILE   containerd trusts CA_FILE for that registry
#   scripts/node.sh images   build the local images (cached), print `reference<TAB>archive`
#
# Layout (see README, "Test cluster"):
# - One holder process owns a new network namespace and a new mount namespace. The network
#   namespace has loopback and a veth pair with both ends inside (node address $NODE_ADDRESS,
#   default route; this kernel has no dummy devices) and no link out: no pod, Service or
#   runtime traffic can leave it, let alone the machine.
# - containerd, kubelet and kube-proxy run in both namespaces; the mount namespace has its own
#   /run, /var/lib and /var/log (tmpfs), where containerd, runc, CNI and the kubelet keep the
#   paths they do not let us choose, so the host's own are never touched, and every mount
#   (overlays, secret volumes, pod network namespaces) goes away with the processes.
# - scripts/node_forward.py carries the connections that cross: the node's port $API_PORT (on
#   every node address: the kubelet, kube-proxy, and pods through the `kubernetes` Service,
#   whose endpoint is $NODE_ADDRESS, see cluster.sh) to the API server on the host's 127.0.0.1;
#   the host's 127.0.0.1:<port> for each of $REGSTACK_NODE_PORTS (default 32000) into the
#   node; and the API server's connections to the node (kubelet logs/exec), which its egress
#   selector sends to the forwarder's unix socket, so the host never routes a node address.
# - kube-scheduler runs on the host (it only talks to the API server). Pods' cgroups live under
#   /<cgroup root> = /regstack-node.XXXXXX in every cgroup v1 hierarchy, removed on down.
# - Cluster DNS: scripts/node_dns.py on $NODE_ADDRESS:53 answers Service names only.
# - Storage: static hostPath PersistentVolumes under the node's data directory, of a default
#   StorageClass `regstack-hostpath` (MicroK8s' hostpath-storage provisions them on demand).
# - Images cannot be pulled here: scripts/node_images.py builds local stand-ins under the exact
#   references the stacks pin, imported into containerd's k8s.io namespace.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${REGSTACK_STATE:-$ROOT/.regstack}"
RECORD="$STATE/node.env"
CLUSTER_RECORD="$STATE/cluster.env"
CACHE="${REGSTACK_CACHE:-$HOME/.cache/regstack}"
NODE_NAME=regstack-node
NODE_ADDRESS=10.213.0.2
POD_SUBNET=10.244.0.0/24
NODE_PORTS="${REGSTACK_NODE_PORTS:-32000}"
TOOLCHAIN_BIN="$(bash "$ROOT/scripts/toolchain.sh" --bin-dir)"
NODE_BIN="$(bash "$ROOT/scripts/node-build.sh" --bin-dir)"
# A volume whose claim is gone stays Released (Retain, as MicroK8s' hostpath keeps data): one test
# session's node modules use each their own (the example programs two, the lifecycle three, ...).
PV_COUNT=12
# shellcheck source=processes.sh
source "$ROOT/scripts/processes.sh"

log() { printf '[node] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
kubectl() { "$TOOLCHAIN_BIN/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }
in_node() { nsenter --target "$HOLDER_PID" --net --mount -- "$@"; }

load_cluster() {
  [[ -f "$CLUSTER_RECORD" ]] || die "the cluster is not up: run scripts/cluster.sh up first"
  # shellcheck disable=SC1090
  source "$CLUSTER_RECORD"
  CLUSTER_DATA="$DATA"
}
PID_VARS=(HOLDER_PID FORWARD_PID DNS_PID CONTAINERD_PID KUBELET_PID KUBE_PROXY_PID SCHEDULER_PID)
load_record() {
  [[ -f "$RECORD" ]] || return 1
  # shellcheck disable=SC1090
  source "$RECORD"
  forget_foreign_pids "${PID_VARS[@]}"
}
save_record() {
  cat > "$RECORD" <<EOF
NODE_DATA=$NODE_DATA
CGROUP_ROOT=$CGROUP_ROOT
NODE_NET_NS=${NODE_NET_NS:-}
NODE_PORTS="$NODE_PORTS"
$(record_pids "${PID_VARS[@]}")
EOF
}

start_bg() { # NAME CMD...: detached, logging to $NODE_DATA/NAME.log; echoes the pid
  local name="$1"
  shift
  setsid "$@" >"$NODE_DATA/$name.log" 2>&1 </dev/null &
  echo $!
}

wait_for() { # WHAT TIMEOUT PID CMD...
  local what="$1" timeout="$2" pid="$3" deadline
  shift 3
  deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    alive "$pid" || { log "$what: its process exited"; return 1; }
    ((SECONDS < deadline)) || { log "timed out waiting for $what"; return 1; }
    sleep 0.5
  done
}

cgroup_hierarchies() { # every mounted cgroup hierarchy (v1, and the hybrid v2 one)
  awk '$3 == "cgroup" || $3 == "cgroup2" {print $2}' /proc/self/mounts
}

# Busybox for the images: Debian's busybox-static, downloaded (not installed) once.
busybox_binary() {
  local dir="$CACHE/node-images/busybox-static" tmp
  if [[ ! -x "$dir/busybox" ]]; then
    tmp="$(mktemp -d)"
    (cd "$tmp" && apt-get download busybox-static >/dev/null 2>&1) \
      || { rm -rf "$tmp"; die "apt-get download busybox-static failed"; }
    dpkg-deb -x "$tmp"/busybox-static_*.deb "$tmp/x"
    mkdir -p "$dir"
    cp "$tmp/x/bin/busybox" "$dir/busybox.tmp"
    mv "$dir/busybox.tmp" "$dir/busybox"
    rm -rf "$tmp"
  fi
  echo "$dir/busybox"
}

build_images() { # prints "reference<TAB>archive" lines
  local busybox registry token_server key python
  busybox="$(busybox_binary)"
  registry="$(bash "$ROOT/scripts/registry-server.sh" --bin)"
  [[ -x "$registry" ]] || bash "$ROOT/scripts/registry-server.sh" >/dev/null
  token_server="$(bash "$ROOT/scripts/token-server.sh" --bin)"
  [[ -x "$token_server" ]] || bash "$ROOT/scripts/token-server.sh" >/dev/null
  # The Python image copies the interpreter that runs node_images.py: the system's, whichever
  # Python the caller's PATH prefers.
  python="$(command -v /usr/bin/python3 || command -v python3)"
  key="$( { sha256sum "$ROOT/scripts/node_images.py" "$busybox" "$registry" "$token_server" | cut -d' ' -f1; "$python" --version; } | sha256sum | cut -c1-16)"
  "$python" "$ROOT/scripts/node_images.py" "$CACHE/node-images/$key" busybox="$busybox" \
    registry="$registry" token_server="$token_server"
}

write_configs() {
  local d="$NODE_DATA"
  mkdir -p "$d/containerd" "$d/cni/net.d" "$d/certs.d" "$d/kubelet" "$d/pv"
  cat > "$d/containerd/config.toml" <<EOF
version = 2
root = "$d/containerd/root"
state = "$d/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$d/containerd.sock"
[ttrpc]
  address = "$d/containerd.ttrpc.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  # Processes here lack CAP_SYS_RESOURCE: a negative oom_score_adj (the sandbox's -998) is
  # refused, and runc then fails with "can't get final child's PID from pipe".
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        Root = "$d/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$d/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$d/certs.d"
EOF
  cat > "$d/cni/net.d/10-regstack.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "regstack",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$d/cni/ipam", "ranges": [[{"subnet": "$POD_SUBNET"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  # Pods' upstream name server: none, so a name outside the cluster domain fails at once.
  : > "$d/resolv.conf"
  cp "$CLUSTER_DATA/pki/ca.crt" "$d/kubelet/ca.crt"
  # The node reaches the API server through its own loopback, at the forward's port.
  cp "$KUBECONFIG_PATH" "$d/kubelet/kubeconfig"
  cat > "$d/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP_ROOT
# The machine mounts cgroup v1 only; kubelet 1.34 refuses it unless told.
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$d/containerd.sock
address: $NODE_ADDRESS
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $d/kubelet/ca.crt}
authorization: {mode: AlwaysAllow}
resolvConf: $d/resolv.conf
# scripts/node_dns.py: Service names only, nothing forwarded.
clusterDNS: [$NODE_ADDRESS]
clusterDomain: cluster.local
serializeImagePulls: false
# A test machine's disk is often fuller than a node's defaults allow.
evictionHard: {memory.available: 50Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
enableControllerAttachDetach: false
syncFrequency: 10s
nodeStatusUpdateFrequency: 5s
fileCheckFrequency: 5s
EOF
  cat > "$d/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: {kubeconfig: $d/kubelet/kubeconfig}
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_SUBNET
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# conntrack sysctls are the host's (not per namespace): leave them alone.
conntrack: {maxPerCore: 0}
iptables: {localhostNodePorts: true}
EOF
}

# The holder: new network and mount namespaces, set up once, kept alive by a sleep.
holder_script() {
  cat <<EOF
set -e
mount --make-rslave /
for dir in /run /var/lib /var/log; do mount -t tmpfs -o mode=0755 regstack-node "\$dir"; done
mkdir -p /run/netns /var/log/pods /var/log/containers /var/lib/cni
ip link set lo up
ip link add node0 type veth peer name node0-peer
ip link set node0-peer up
ip addr add $NODE_ADDRESS/32 dev node0
ip link set node0 up
ip route add default dev node0
sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.route_localnet=1
if [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]; then sysctl -qw net.bridge.bridge-nf-call-iptables=1; fi
echo ready > "$NODE_DATA/holder.ready"
exec sleep infinity
EOF
}

cmd_up() {
  load_cluster
  if cmd_status >/dev/null 2>&1; then
    log "already up (data $NODE_DATA)"
    return 0
  fi
  if [[ -f "$RECORD" ]]; then cmd_down >/dev/null 2>&1 || true; fi
  local b
  bash "$ROOT/scripts/node-build.sh" >/dev/null
  for b in containerd runc ctr nsenter unshare ip iptables; do
    command -v "$b" >/dev/null || die "$b is missing (Debian packages: containerd runc util-linux iproute2 iptables)"
  done
  [[ -x /usr/lib/cni/bridge ]] || die "/usr/lib/cni/bridge is missing (Debian package containernetworking-plugins; make system-deps installs it)"
  mkdir -p "$STATE"
  NODE_DATA="$(mktemp -d "${TMPDIR:-/tmp}/regstack-node.XXXXXX")"
  chmod 0755 "$NODE_DATA"
  CGROUP_ROOT="$(basename "$NODE_DATA")"
  read -r SCHEDULER_PORT < <(free_ports 1)
  save_record
  write_configs

  local h
  for h in $(cgroup_hierarchies); do
    mkdir -p "$h/$CGROUP_ROOT"
    if [[ -f "$h/cpuset.cpus" ]]; then # a new cpuset cgroup starts empty: copy its parent's
      cat "$h/cpuset.cpus" > "$h/$CGROUP_ROOT/cpuset.cpus"
      cat "$h/cpuset.mems" > "$h/$CGROUP_ROOT/cpuset.mems"
    fi
  done

  HOLDER_PID="$(start_bg holder unshare --mount --net --propagation unchanged sh -c "$(holder_script)")"
  save_record
  wait_for "the node's namespaces" 20 "$HOLDER_PID" test -f "$NODE_DATA/holder.ready" \
    || { cat "$NODE_DATA/holder.log" >&2; cmd_down; die "could not make the node's namespaces"; }
  NODE_NET_NS="$(readlink "/proc/$HOLDER_PID/ns/net")"
  save_record

  local port specs=("node:0.0.0.0:$API_PORT>host:127.0.0.1:$API_PORT" "connect:$CLUSTER_DATA/node-egress.sock")
  for port in $NODE_PORTS; do specs+=("host:127.0.0.1:$port>node:$NODE_ADDRESS:$port"); done
  FORWARD_PID="$(start_bg forward python3 "$ROOT/scripts/node_forward.py" "/proc/$HOLDER_PID/ns/net" "${specs[@]}")"
  save_record
  wait_for "the forwards" 20 "$FORWARD_PID" grep -q forwarding "$NODE_DATA/forward.log" \
    || { cat "$NODE_DATA/forward.log" >&2; cmd_down; die "could not forward (a port in use?)"; }

  # Its own credential (read Services only), not the admin's: any pod can make it query the API.
  bash "$ROOT/scripts/node-dns-identity.sh" "$CLUSTER_DATA/pki" "$KUBECONFIG_PATH" "$NODE_DATA/dns"
  DNS_PID="$(start_bg dns nsenter --target "$HOLDER_PID" --net -- python3 "$ROOT/scripts/node_dns.py" \
    "$NODE_ADDRESS" "https://127.0.0.1:$API_PORT" "$CLUSTER_DATA/pki/ca.crt" \
    "$NODE_DATA/dns/client.crt" "$NODE_DATA/dns/client.key")"
  save_record
  wait_for "the cluster DNS" 20 "$DNS_PID" grep -q serving "$NODE_DATA/dns.log" \
    || { cat "$NODE_DATA/dns.log" >&2; cmd_down; die "the cluster DNS did not start"; }

  CONTAINERD_PID="$(start_bg containerd nsenter --target "$HOLDER_PID" --net --mount -- \
    containerd --config "$NODE_DATA/containerd/config.toml")"
  save_record
  wait_for containerd 30 "$CONTAINERD_PID" ctr --address "$NODE_DATA/containerd.sock" version \
    || { tail -n 30 "$NODE_DATA/containerd.log" >&2; cmd_down; die "containerd did not start"; }
  import_images || { cmd_down; die "could not import the images"; }

  SCHEDULER_PID="$(start_bg kube-scheduler "$NODE_BIN/kube-scheduler" --kubeconfig "$KUBECONFIG_PATH" \
    --authentication-kubeconfig "$KUBECONFIG_PATH" --authorization-kubeconfig "$KUBECONFIG_PATH" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port "$SCHEDULER_PORT")"
  KUBELET_PID="$(start_bg kubelet nsenter --target "$HOLDER_PID" --net --mount -- \
    "$NODE_BIN/kubelet" --config "$NODE_DATA/kubelet/config.yaml" \
    --kubeconfig "$NODE_DATA/kubelet/kubeconfig" --root-dir "$NODE_DATA/kubelet/root" \
    --hostname-override "$NODE_NAME" --node-ip "$NODE_ADDRESS" --v 1)"
  KUBE_PROXY_PID="$(start_bg kube-proxy nsenter --target "$HOLDER_PID" --net --mount -- \
    "$NODE_BIN/kube-proxy" --config "$NODE_DATA/kube-proxy.yaml")"
  save_record

  wait_for "node $NODE_NAME Ready" 120 "$KUBELET_PID" node_ready \
    || { tail -n 40 "$NODE_DATA/kubelet.log" >&2; cmd_down; die "the node did not become Ready"; }
  # The controller-manager's node-lifecycle controller lifts the not-ready taint it was born with.
  wait_for "the node's not-ready taint to go" 60 "$KUBELET_PID" node_untainted \
    || { kubectl get node "$NODE_NAME" -o yaml >&2; cmd_down; die "the node kept its not-ready taint"; }
  storage
  log "up: node $NODE_NAME Ready (data $NODE_DATA; node ports ${NODE_PORTS// /, } on 127.0.0.1)"
}

node_ready() {
  [[ "$(kubectl get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}
node_untainted() {
  [[ "$(kubectl get node "$NODE_NAME" -o jsonpath='{.spec.taints[*].key}')" != *not-ready* ]]
}

import_images() {
  local reference archive
  while IFS=$'\t' read -r reference archive; do
    ctr --address "$NODE_DATA/containerd.sock" -n k8s.io images import "$archive" >/dev/null \
      || { log "could not import $archive"; return 1; }
    [[ $'\n'"$(ctr --address "$NODE_DATA/containerd.sock" -n k8s.io images ls -q)"$'\n' == *$'\n'"$reference"$'\n'* ]] \
      || { log "$archive did not import as $reference"; return 1; }
  done < <(build_images)
}

storage() {
  local i manifest=""
  for i in $(seq 1 "$PV_COUNT"); do
    # World-writable as MicroK8s' hostpath provisioner makes them: pods run as any user.
    mkdir -p "$NODE_DATA/pv/pv$i"
    chmod 0777 "$NODE_DATA/pv/pv$i"
    manifest+="---
apiVersion: v1
kind: PersistentVolume
metadata: {name: regstack-hostpath-$i, labels: {app.kubernetes.io/part-of: regstack-test-node}}
spec:
  capacity: {storage: 100Gi}
  accessModes: [ReadWriteOnce, ReadWriteMany, ReadOnlyMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: regstack-hostpath
  hostPath: {path: $NODE_DATA/pv/pv$i, type: Directory}
"
  done
  manifest+="---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: regstack-hostpath
  annotations: {storageclass.kubernetes.io/is-default-class: \"true\"}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: Immediate
"
  printf '%s' "$manifest" | kubectl apply -f - >/dev/null
}

# Processes in the node's network namespace whose command line names the node's data directory:
# containerd's shims, which containerd starts detached, outlive it otherwise. The namespace
# (recorded at `up`) keeps alive a process outside the node that merely names the directory.
our_processes() {
  local p
  [[ -n "${NODE_NET_NS:-}" ]] || return 0
  for p in /proc/[0-9]*; do
    [[ "$(readlink "$p/ns/net" 2>/dev/null)" == "$NODE_NET_NS" ]] || continue
    if tr "\\0" " " 2>/dev/null < "$p/cmdline" | grep -qF -- "$NODE_DATA/"; then echo "${p#/proc/}"; fi
  done
}

cgroup_processes() {
  local h
  for h in $(cgroup_hierarchies); do
    if [[ -d "$h/$CGROUP_ROOT" ]]; then find "$h/$CGROUP_ROOT" -name cgroup.procs -exec cat {} + 2>/dev/null || true; fi
  done
}

cmd_down() {
  if ! load_record; then
    log "not running (no $RECORD)"
    return 0
  fi
  [[ -n "${NODE_DATA:-}" && "$(basename "$NODE_DATA")" == regstack-node.* ]] || die "bad record $RECORD"
  # An empty cgroup root would make every process of the machine a pod's.
  [[ "${CGROUP_ROOT:-}" == "$(basename "$NODE_DATA")" ]] || die "bad record $RECORD"
  stop_pid "${SCHEDULER_PID:-}" kube-scheduler
  stop_pid "${KUBELET_PID:-}" kubelet
  stop_pid "${KUBE_PROXY_PID:-}" kube-proxy
  local pid round h dir
  # The pods' processes (in our cgroups) and the shims (named after our data directory).
  for round in 1 2 3; do
    for pid in $(cgroup_processes) $(our_processes); do
      [[ "$pid" == "${CONTAINERD_PID:-}" || "$pid" == "$$" ]] || kill -KILL "$pid" 2>/dev/null || true
    done
    sleep 0.3
  done
  stop_pid "${CONTAINERD_PID:-}" containerd
  stop_pid "${FORWARD_PID:-}" forward
  stop_pid "${DNS_PID:-}" dns
  # Its namespaces, and every mount in them, end with the last process in them.
  stop_pid "${HOLDER_PID:-}" holder
  for pid in $(our_processes); do [[ "$pid" == "$$" ]] || kill -KILL "$pid" 2>/dev/null || true; done
  for h in $(cgroup_hierarchies); do
    dir="$h/$CGROUP_ROOT"
    for round in 1 2 3 4 5 6; do
      [[ -d "$dir" ]] || break
      find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || sleep 0.5
    done
    if [[ -d "$dir" ]]; then log "could not remove cgroup $dir"; fi
  done
  if grep -qF "$NODE_DATA" /proc/self/mountinfo; then
    log "mounts left under $NODE_DATA: unmounting them"
    grep -F "$NODE_DATA" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l
  fi
  rm -rf "$NODE_DATA"
  rm -f "$RECORD"
  # The node's API objects: on a cluster kept up they would point at directories just removed.
  if [[ -f "$CLUSTER_RECORD" ]]; then
    load_cluster
    if [[ -f "$KUBECONFIG_PATH" ]]; then
      kubectl delete node "$NODE_NAME" --ignore-not-found --wait=false >/dev/null 2>&1 || true
      kubectl delete pv -l app.kubernetes.io/part-of=regstack-test-node --wait=false >/dev/null 2>&1 || true
      kubectl delete storageclass regstack-hostpath --ignore-not-found >/dev/null 2>&1 || true
      kubectl delete clusterrolebinding,clusterrole -l app.kubernetes.io/part-of=regstack-test-node --wait=false >/dev/null 2>&1 || true
    fi
  fi
  log "down"
}

cmd_status() {
  load_record || { echo "down"; return 1; }
  load_cluster
  if alive "$HOLDER_PID" && alive "$CONTAINERD_PID" && alive "$KUBELET_PID" && node_ready; then
    echo "up: node $NODE_NAME Ready, data $NODE_DATA"
    echo "  containerd $CONTAINERD_PID, kubelet $KUBELET_PID, kube-proxy $KUBE_PROXY_PID, kube-scheduler $SCHEDULER_PID, forwards $FORWARD_PID, namespaces $HOLDER_PID"
    return 0
  fi
  echo "down"
  return 1
}

cmd_env() {
  load_record || die "the node is not up"
  echo "export REGSTACK_NODE_PID=$HOLDER_PID"
  echo "export REGSTACK_NODE_DATA=$NODE_DATA"
  echo "export REGSTACK_NODE_CONTAINERD=$NODE_DATA/containerd.sock"
  echo "export REGSTACK_NODE_ADDRESS=$NODE_ADDRESS"
}

# The node trusts CA_FILE for registry HOST:PORT (containerd's certs.d), as regstack's node_trust
# component makes a MicroK8s node trust the lab CA.
cmd_trust() {
  [[ $# -eq 2 ]] || die "usage: $0 trust HOST:PORT CA_FILE"
  load_record || die "the node is not up"
  local dir="$NODE_DATA/certs.d/$1"
  mkdir -p "$dir"
  cp "$2" "$dir/ca.crt"
  # HTTPS spelled out: containerd would speak plain HTTP to a registry on localhost.
  printf 'server = "https://%s"\n[host."https://%s"]\n  ca = "%s"\n' "$1" "$1" "$dir/ca.crt" > "$dir/hosts.toml"
}

case "${1:-}" in
  up) cmd_up ;;
  trust) shift; cmd_trust "$@" ;;
  images) build_images ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
  exec) shift; load_record || die "the node is not up"; in_node "$@" ;;
  *) echo "usage: $0 up|down|status|env|exec CMD...|trust HOST:PORT CA_FILE|images" >&2; exit 2 ;;
esac
