#!/usr/bin/env bash
# Installs the Debian packages whose real binaries the tests run against.
set -euo pipefail
# openssh-server: the node-trust and microk8s-addon e2e tests start their own sshd on 127.0.0.1.
packages=(docker-registry skopeo prometheus redis-server containerd jq openssl curl openssh-server)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packages start their services; the tests start their own on loopback.
for s in docker-registry prometheus redis-server containerd ssh; do $SUDO systemctl disable --now "$s" >/dev/null 2>&1 || true; done
