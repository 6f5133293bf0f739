# Sourced by toolchain.sh and node-build.sh: the linker flags that stamp a Kubernetes binary
# built from the Go module proxy with its version, as upstream's release build does (what
# `kubectl version` and the kubelet's node status report; empty otherwise).
#
#   k8s_version_ldflags   prints the -X flags for $KUBERNETES_VERSION

k8s_version_ldflags() {
  local v="v$KUBERNETES_VERSION" f="" p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f+=" -X $p.gitVersion=$v -X $p.gitMajor=${KUBERNETES_VERSION%%.*}"
    f+=" -X $p.gitMinor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2) -X $p.gitTreeState=clean"
    f+=" -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  echo "${f# }"
}
