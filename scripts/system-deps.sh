#!/usr/bin/env bash
# Installs the Debian packages whose real binaries the tests run against, when their commands
# are missing. `make test` runs it; `make setup` does not (a user of the stacks needs none).
#
# It leaves the host's services as they were:
# - a command already on PATH is used as it is, whatever package provides it (Docker CE's
#   `containerd.io` provides `containerd`; Debian's `containerd` would conflict with it);
# - packages it installs do not start their services (a policy-rc.d denies it during the
#   install), and it disables at boot only the services of packages it installed itself;
# - REGSTACK_NO_APT=1 makes it list what is missing and fail instead of installing.
set -euo pipefail

# command the tests run -> Debian package that provides it
declare -A PACKAGE=(
  [docker-registry]=docker-registry [skopeo]=skopeo [promtool]=prometheus
  [redis-server]=redis-server [containerd]=containerd [ctr]=containerd
  [jq]=jq [openssl]=openssl [curl]=curl
  # the docs: the architecture diagram is rendered from its Graphviz source (docs/architecture.dot)
  [dot]=graphviz
  # the node-trust and microk8s-addon e2e tests start their own sshd on 127.0.0.1
  [sshd]=openssh-server
  # the test node (scripts/node.sh): runtime, namespaces, kube-proxy's rules
  [runc]=runc [nsenter]=util-linux
  [ip]=iproute2 [iptables]=iptables
  # the TypeScript programs' e2e tests (scripts/npm-parts.sh, tests/e2e/typescript_program.py)
  [node]=nodejs [npm]=npm
)
# package -> the service its installation registers
declare -A SERVICE=(
  [docker-registry]=docker-registry [prometheus]=prometheus [redis-server]=redis-server
  [containerd]=containerd [openssh-server]=ssh
)

missing=()
for command in "${!PACKAGE[@]}"; do
  command -v "$command" >/dev/null 2>&1 || missing+=("${PACKAGE[$command]}")
done
# The test node's CNI plugins put no command on PATH: their directory (node.sh's bin_dir) says.
[[ -x "${REGSTACK_CNI_DIR:-/usr/lib/cni}/bridge" ]] || missing+=(containernetworking-plugins)
[[ ${#missing[@]} -eq 0 ]] && exit 0
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

if [[ "${REGSTACK_NO_APT:-}" == 1 ]]; then
  echo "missing Debian packages for the tests: ${missing[*]} (REGSTACK_NO_APT=1: not installing)" >&2
  exit 1
fi
echo "installing Debian packages for the tests: ${missing[*]}"
SUDO=""; [[ "$(id -u)" -eq 0 ]] || SUDO="sudo"

POLICY="${REGSTACK_POLICY_RC:-/usr/sbin/policy-rc.d}"  # overridable for its tests
if [[ ! -e "$POLICY" ]]; then
  trap '$SUDO rm -f "$POLICY"' EXIT
  printf '#!/bin/sh\n# regstack scripts/system-deps.sh: no service starts during its install\nexit 101\n' |
    $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod 0755 "$POLICY"
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Only where systemd runs, and only the services this run brought in.
if [[ "$(ps -p 1 -o comm= 2>/dev/null)" == systemd ]]; then
  for package in "${missing[@]}"; do
    # `if`, not `[[ ]] &&`: a package without a service must not become the script's exit status.
    if [[ -n "${SERVICE[$package]:-}" ]]; then
      $SUDO systemctl disable "${SERVICE[$package]}" >/dev/null 2>&1 || true
    fi
  done
fi
