#!/usr/bin/env bash
# `make demo`: the dev stack, deployed for real on a throwaway local cluster with a node where pods
# run (scripts/cluster.sh + scripts/node.sh), then the chapter's flow: an image pushed to the
# registry's node port with the dev user's password and the lab CA, pulled back, and run as a pod
# in another namespace through the stack's pull secret.
#   scripts/demo.sh up     toolchain, cluster + node, `pulumi up` of the dev stack, push/pull, summary
#   scripts/demo.sh down   `pulumi destroy`, stack removed, cluster and node stopped
# The repository stays clean: the demo stack (`demo`) has a git-ignored copy of the dev config.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STACK=demo  # its own stack name: `pulumi stack rm` must never delete Pulumi.dev.yaml
CONFIG="Pulumi.demo.yaml"  # git-ignored; made from Pulumi.dev.yaml

say() { printf '\n== %s\n' "$*"; }

up() {
  say "toolchain (built once from the Go module proxy, then cached)"
  bash scripts/toolchain.sh >/dev/null
  bash scripts/node-build.sh >/dev/null
  say "local cluster with a node (images are local stand-ins: see README, Test cluster)"
  REGSTACK_NODE=1 bash scripts/cluster.sh up
  eval "$(bash scripts/cluster.sh env)"
  # shellcheck disable=SC1091
  source scripts/pulumi-env.sh
  # The Grafana dashboard goes to the namespace MicroK8s' observability addon would own.
  kubectl get namespace observability >/dev/null 2>&1 || kubectl create namespace observability >/dev/null
  mkdir -p .regstack
  cp Pulumi.dev.yaml "$CONFIG"
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
  flow
  say "done: 'make demo-down' removes it all"
}

# The chapter's flow: push with the dev user's password and the lab CA, pull back, run from
# another namespace through the stack's pull secret. The password goes from the stack's
# encrypted config through a pipe to `skopeo login --password-stdin`, which keeps it in an auth
# file only this user reads: never in a command line, which anyone on the machine can read.
flow() {
  local registry=localhost:32000 image=demo/busybox:1.35.0 ca_dir=.regstack/demo/lab-ca archive auth
  local get_password="pulumi config get --path 'regstack:auth.users[0].password' --config-file $CONFIG --stack $STACK"
  say "push, pull, run: the chapter's flow against the registry's node port"
  mkdir -p "$ca_dir" .regstack/demo
  kubectl -n container-registry get secret regstack-certificate-ca -o jsonpath='{.data.ca\.crt}' | base64 -d > "$ca_dir/ca.crt"
  # The node trusts the lab CA for the node port, as regstack's node_trust does on MicroK8s.
  bash scripts/node.sh trust "$registry" "$ca_dir/ca.crt"
  archive="$(bash scripts/node.sh images | awk -F'\t' '$1 ~ /busybox/ {print $2}')"
  auth="$(umask 077 && mktemp -d .regstack/demo/auth.XXXXXX)/auth.json"
  eval "$get_password" | skopeo login --authfile "$auth" --cert-dir "$ca_dir" -u dev --password-stdin "$registry"
  skopeo copy -q --authfile "$auth" --dest-cert-dir "$ca_dir" \
    "oci-archive:$archive" "docker://$registry/$image"
  local pushed pulled
  pushed="$(skopeo inspect --authfile "$auth" --cert-dir "$ca_dir" --format '{{.Digest}}' "docker://$registry/$image")"
  rm -rf .regstack/demo/pulled
  skopeo copy -q --authfile "$auth" --src-cert-dir "$ca_dir" \
    --digestfile .regstack/demo/pulled.digest "docker://$registry/$image" oci:.regstack/demo/pulled:1.35.0
  rm -rf "$(dirname "$auth")"
  pulled="$(cat .regstack/demo/pulled.digest)"
  [[ "$pushed" == "$pulled" ]] || { echo "pulled $pulled, pushed $pushed" >&2; exit 1; }
  kubectl -n dev delete pod hello-registry --ignore-not-found >/dev/null
  kubectl -n dev apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: hello-registry}
spec:
  restartPolicy: Never
  imagePullSecrets: [{name: regstack-pull}]
  containers:
  - name: hello
    image: $registry/$image
    imagePullPolicy: Always
    command: [sh, -c, 'echo "hello from $registry/$image"']
EOF
  kubectl -n dev wait --for=jsonpath='{.status.phase}'=Succeeded pod/hello-registry --timeout=120s >/dev/null ||
    { kubectl -n dev describe pod hello-registry >&2; exit 1; }
  local ran
  ran="$(kubectl -n dev get pod hello-registry -o jsonpath='{.status.containerStatuses[0].imageID}')"
  cat <<EOF
  pushed   $registry/$image  $pushed
  pulled   $pulled (skopeo, into .regstack/demo/pulled)
  ran      pod dev/hello-registry, image $ran, said: $(kubectl -n dev logs hello-registry)

  The same by hand (the password goes from the stack's encrypted config to skopeo's auth file
  through a pipe, never in a command line):
    $get_password | skopeo login --cert-dir $ca_dir -u dev --password-stdin $registry
    skopeo copy --dest-cert-dir $ca_dir oci-archive:$archive docker://$registry/$image
    skopeo copy --src-cert-dir $ca_dir docker://$registry/$image oci:/tmp/pulled:1.35.0
    skopeo logout $registry
    kubectl -n dev run hello --restart=Never --image=$registry/$image \\
      --overrides='{"spec":{"imagePullSecrets":[{"name":"regstack-pull"}]}}' -- echo hello
EOF
  [[ "$ran" == *"@$pushed" ]] || { echo "the pod ran $ran, not $pushed" >&2; exit 1; }
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
  rm -rf .regstack/demo
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
