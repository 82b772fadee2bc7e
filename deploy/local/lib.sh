# Shared by run.sh and test.sh: sourced, not run. Installs what is missing and builds.
# Everything comes from Debian 12's packages (see shared/DEPENDENCIES.md).

LP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Build and run dependencies; test-only ones are added by test.sh.
LP_PACKAGES=(
  build-essential cmake pkg-config git ca-certificates
  libuv1-dev librdkafka-dev libhiredis-dev libmsgpack-dev libmimalloc-dev libcriterion-dev
  node-llhttp libjansson-dev libinih-dev libutf8proc-dev libstemmer-dev libxxhash-dev
  libxgboost-dev libhnswlib-dev libpq-dev
  redis-server
)

lp_log() { printf '[leadpoet] %s\n' "$*" >&2; }
lp_die() { printf '[leadpoet] error: %s\n' "$*" >&2; exit 1; }

# Installs the packages of "$@" that are not installed yet; does nothing (and needs no root) when all are.
lp_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  lp_log "installing: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || lp_die "need root (or sudo) to install: ${missing[*]}"
    sudo="sudo"
  fi
  # Debian's packages would start their services (redis, nginx) at install: we start our own.
  local policy=/usr/sbin/policy-rc.d created=0
  if [ ! -e "$policy" ] && [ -z "$sudo" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq || lp_die "apt-get update failed"
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    { [ $created -eq 1 ] && rm -f "$policy"; lp_die "apt-get install failed: ${missing[*]}"; }
  [ $created -eq 1 ] && rm -f "$policy"
  return 0
}

# lp_build DIR BUILD_TYPE [cmake args...]: configures (once) and builds.
lp_build() {
  local dir=$1 type=$2
  shift 2
  cmake -S "$LP_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE="$type" "$@" >/dev/null || lp_die "cmake configure failed ($dir)"
  cmake --build "$dir" -j"$(nproc)" -- --no-print-directory >/dev/null 2>"$dir.build.log" ||
    { cat "$dir.build.log" >&2; lp_die "build failed ($dir)"; }
}

# A TCP port on 127.0.0.1 that is free now.
lp_free_port() {
  python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

# Waits until http://$1/healthz answers 200, up to $2 seconds (bash's /dev/tcp: no curl needed).
lp_wait_http() {
  local addr=$1 secs=${2:-30} i
  for ((i = 0; i < secs * 10; i++)); do
    if (exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}" &&
        printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3 &&
        head -c 12 <&3 | grep -q ' 200') 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# lp_deploy_node_modules: prints the node_modules folder that the deployment checks (ctest deploy_*,
# tests/deploy) use, installing it first when this machine has no copy for the current lock file. The
# versions are pinned, with their checksums, in tests/deploy/package-lock.json; `npm ci` verifies them.
# Cached under ${LEADPOET_CACHE:-~/.cache/leadpoet}/deploy-node/<lock hash>/: once there, nothing is fetched.
# Also makes sure kubectl (its `kubectl kustomize` renders deploy/k8s) is present. Returns non-zero with a
# message when either cannot be had.
lp_deploy_node_modules() {
  local cache="${LEADPOET_CACHE:-${HOME:-/root}/.cache/leadpoet}" src="$LP_ROOT/tests/deploy" sum dir tmp
  command -v kubectl >/dev/null 2>&1 || lp_install kubernetes-client >&2 ||
    { lp_log "kubectl is missing and kubernetes-client could not be installed"; return 1; }
  command -v npm >/dev/null 2>&1 || lp_install nodejs npm >&2 ||
    { lp_log "npm is missing and could not be installed"; return 1; }
  sum=$(sha256sum "$src/package-lock.json" | cut -c1-16) || return 1
  dir="$cache/deploy-node/$sum"
  if [ ! -f "$dir/.complete" ]; then
    mkdir -p "$cache/deploy-node" || { lp_log "cannot create $cache/deploy-node"; return 1; }
    tmp=$(mktemp -d "$cache/deploy-node/tmp.XXXXXX") || return 1
    cp "$src/package.json" "$src/package-lock.json" "$tmp/" &&
      (cd "$tmp" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >npm.log 2>&1) ||
      { lp_log "npm ci of tests/deploy failed: $(tail -n 5 "$tmp/npm.log" 2>/dev/null)"; rm -rf "$tmp"; return 1; }
    touch "$tmp/.complete" && rm -rf "$dir" && mv "$tmp" "$dir" || { rm -rf "$tmp"; return 1; }
  fi
  echo "$dir/node_modules"
}

# lp_web_node_modules: prints the node_modules folder of the web console's front-end packages (web/package.json:
# swagger-ui-dist, bundled into the binary at build time for GET /docs; playwright-core, which drives chromium in
# the console test), installing it first when this machine has no copy for the current lock file. Versions and
# checksums are pinned in web/package-lock.json and verified by `npm ci`; install scripts are not run. Cached
# under ${LEADPOET_CACHE:-~/.cache/leadpoet}/web-node/<lock hash>/: once there, nothing is fetched. The build
# (web/web.cmake) calls it at configure time unless LP_WEB_NODE_MODULES names a folder. Returns non-zero with
# a message when the packages cannot be had.
lp_web_node_modules() {
  local cache="${LEADPOET_CACHE:-${HOME:-/root}/.cache/leadpoet}" src="$LP_ROOT/web" sum dir tmp
  command -v npm >/dev/null 2>&1 || lp_install nodejs npm >&2 ||
    { lp_log "npm is missing and could not be installed"; return 1; }
  sum=$(sha256sum "$src/package-lock.json" | cut -c1-16) || return 1
  dir="$cache/web-node/$sum"
  if [ ! -f "$dir/.complete" ]; then
    mkdir -p "$cache/web-node" || { lp_log "cannot create $cache/web-node"; return 1; }
    tmp=$(mktemp -d "$cache/web-node/tmp.XXXXXX") || return 1
    cp "$src/package.json" "$src/package-lock.json" "$tmp/" &&
      (cd "$tmp" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >npm.log 2>&1) ||
      { lp_log "npm ci of web/ failed: $(tail -n 5 "$tmp/npm.log" 2>/dev/null)"; rm -rf "$tmp"; return 1; }
    # Another build may have finished the same install meanwhile: keep the first complete copy.
    if [ -f "$dir/.complete" ]; then rm -rf "$tmp"; else touch "$tmp/.complete" && rm -rf "$dir" && mv "$tmp" "$dir" || { rm -rf "$tmp"; return 1; }; fi
  fi
  echo "$dir/node_modules"
}

# lp_postgres: installs Debian's postgresql-15 (server programs under /usr/lib/postgresql/15/bin) for the
# archive's tests (ctest archive_*), which start their own cluster in a temporary folder and skip with a
# message when it is absent. Not part of LP_PACKAGES: the server only needs libpq; test.sh calls this.
lp_postgres() {
  [ -x /usr/lib/postgresql/15/bin/postgres ] || lp_install postgresql-15 >&2 ||
    { lp_log "postgresql-15 could not be installed"; return 1; }
  echo /usr/lib/postgresql/15/bin
}

# lp_console_browser: installs Debian's chromium (about 300 MB with its libraries) for the headless console
# test (ctest console_browser), which skips with a message when it is absent. Not part of LP_PACKAGES: a
# developer who never runs that test does not need it; test.sh calls this. Prints the browser's path.
lp_console_browser() {
  command -v chromium >/dev/null 2>&1 || lp_install chromium fonts-dejavu-core >&2 ||
    { lp_log "chromium could not be installed"; return 1; }
  command -v chromium
}
