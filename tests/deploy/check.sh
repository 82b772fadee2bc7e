#!/usr/bin/env bash
# check.sh NAME [LEADPOET_BINARY]: one deployment check, run by ctest as deploy_NAME (tests/deploy/CMakeLists.txt).
#   prometheus  promtool check rules + promtool test rules of deploy/prometheus; runbook links resolve
#   grafana     the dashboards of deploy/grafana (grafana.js)
#   k8s         `kubectl kustomize` of every overlay of deploy/k8s and of deploy/k8s/live, checked against the
#               Kubernetes schemas and for consistency (k8s.js); the ConfigMap passes `leadpoet check-config`
#   docker      the Dockerfile and .dockerignore (docker.js)
#   terraform   every .tf of terraform/, parsed, with variables, outputs and module references (terraform.js)
#   miner       dev/run.sh against a real `leadpoet serve` (miner_run.sh)
# Tools: promtool from $PROMTOOL or deploy/local/promtool.sh; node modules from $LEADPOET_DEPLOY_NODE_MODULES or
# lp_deploy_node_modules (deploy/local/lib.sh), which fetches nothing once its cache holds them.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../../deploy/local/lib.sh"
root=$LP_ROOT

node_path() {
  if [ -n "${LEADPOET_DEPLOY_NODE_MODULES:-}" ]; then echo "$LEADPOET_DEPLOY_NODE_MODULES"; else lp_deploy_node_modules; fi
}

case "${1:-}" in
  prometheus)
    promtool=${PROMTOOL:-}
    [ -n "$promtool" ] || promtool=$("$root/deploy/local/promtool.sh")
    "$promtool" check rules "$root/deploy/prometheus/alerts.yml"
    (cd "$root/deploy/prometheus" && "$promtool" test rules alerts_test.yml)
    # Every alert's runbook link names a heading of docs/operations.md.
    for anchor in $(grep -o 'docs/operations.md#[a-z0-9-]*' "$root/deploy/prometheus/alerts.yml" | cut -d'#' -f2); do
      grep -qix "### $anchor" "$root/docs/operations.md" || lp_die "alerts.yml: runbook #$anchor is no heading of docs/operations.md"
    done
    echo "runbook links: every alert has its section in docs/operations.md"
    ;;
  grafana)
    node "$here/grafana.js" "$root"
    ;;
  k8s)
    np=$(node_path)
    command -v kubectl >/dev/null || lp_die "kubectl not found (deploy/local/lib.sh lp_deploy_node_modules installs it)"
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
    [ -n "${2:-}" ] || lp_die "usage: check.sh k8s LEADPOET_BINARY"
    for overlay in "$root"/deploy/k8s/overlays/*/ "$root"/deploy/k8s/live/; do
      name=$(basename "$overlay")
      kubectl kustomize "$overlay" >"$out/$name.yaml" 2>"$out/$name.err" ||
        { cat "$out/$name.err" >&2; lp_die "kubectl kustomize deploy/k8s/overlays/$name failed"; }
    done
    NODE_PATH=$np node "$here/k8s.js" "$root" "$out" "$2"
    ;;
  docker)
    NODE_PATH=$(node_path) node "$here/docker.js" "$root"
    ;;
  terraform)
    NODE_PATH=$(node_path) node "$here/terraform.js" "$root"
    ;;
  miner)
    [ -n "${2:-}" ] || lp_die "usage: check.sh miner LEADPOET_BINARY"
    bash "$here/miner_run.sh" "$2"
    ;;
  *)
    lp_die "usage: check.sh prometheus|grafana|k8s|docker|terraform|miner [LEADPOET_BINARY]"
    ;;
esac
