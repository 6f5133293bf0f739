#!/usr/bin/env bash
# `make demo`: the dev stack, deployed for real on a throwaway local control plane.
#   scripts/demo.sh up     toolchain, cluster, `pulumi up` of the dev stack, a summary
#   scripts/demo.sh down   `pulumi destroy`, stack removed, cluster stopped
# The repository stays clean: the demo stack (`demo`) has a git-ignored copy of the dev config with
# skip_await on (the local API server has no nodes, so pods never become ready).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STACK=demo  # its own stack name: `pulumi stack rm` must never delete Pulumi.dev.yaml
CONFIG="Pulumi.demo.yaml"  # git-ignored; made from Pulumi.dev.yaml

say() { printf '\n== %s\n' "$*"; }

up() {
  say "toolchain (built once from the Go module proxy, then cached)"
  bash scripts/toolchain.sh >/dev/null
  say "local control plane"
  bash scripts/cluster.sh up
  eval "$(bash scripts/cluster.sh env)"
  # shellcheck disable=SC1091
  source scripts/pulumi-env.sh
  # The Grafana dashboard goes to the namespace MicroK8s' observability addon would own.
  kubectl get namespace observability >/dev/null 2>&1 || kubectl create namespace observability >/dev/null
  mkdir -p .regstack
  .venv/bin/python - Pulumi.dev.yaml "$CONFIG" <<'PY'
import sys, yaml
stack = yaml.safe_load(open(sys.argv[1]))
stack["config"]["regstack:skip_await"] = True
yaml.safe_dump(stack, open(sys.argv[2], "w"), sort_keys=False)
PY
  pulumi stack select "$STACK" --create --non-interactive >/dev/null 2>&1 ||
    pulumi stack select "$STACK" --non-interactive
  say "pulumi up (dev stack)"
  pulumi up --yes --skip-preview --non-interactive --config-file "$CONFIG" --stack "$STACK"
  say "stack outputs"
  pulumi stack output --stack "$STACK"
  say "objects now in the cluster"
  kubectl get namespaces -l app.kubernetes.io/managed-by=regstack
  kubectl -n container-registry get deployments,services,persistentvolumeclaims,configmaps,secrets,cronjobs,networkpolicies
  kubectl -n container-registry get certificates.cert-manager.io,issuers.cert-manager.io,servicemonitors.monitoring.coreos.com,prometheusrules.monitoring.coreos.com
  say "done: 'make demo-down' removes it all"
}

down() {
  if bash scripts/cluster.sh status >/dev/null 2>&1; then
    eval "$(bash scripts/cluster.sh env)"
    # shellcheck disable=SC1091
    source scripts/pulumi-env.sh
    if pulumi stack select "$STACK" --non-interactive >/dev/null 2>&1; then
      pulumi destroy --yes --skip-preview --non-interactive --config-file "$CONFIG" --stack "$STACK"
      pulumi stack rm --yes --preserve-config --non-interactive --stack "$STACK"
    fi
  fi
  bash scripts/cluster.sh down
  rm -f "$CONFIG"
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
