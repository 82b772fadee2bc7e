#!/usr/bin/env bash
# browser.sh LEADPOET_BINARY OUT_DIR [NODE_MODULES]: the console test in headless Chromium (ctest
# console_browser). Starts `leadpoet serve` on a free loopback port (no Kafka), runs browser.js, stops the
# server by its pid. Exits 77 (ctest: skipped) with a message when chromium is not installed
# (deploy/local/lib.sh lp_console_browser installs it). Screenshots are left in OUT_DIR.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../../deploy/local/lib.sh"
bin=${1:?usage: browser.sh LEADPOET_BINARY OUT_DIR [NODE_MODULES]}
out=${2:?usage: browser.sh LEADPOET_BINARY OUT_DIR [NODE_MODULES]}
nm=${3:-}
chrome=${CHROMIUM:-$(command -v chromium || true)}
if [ -z "$chrome" ]; then
  echo "SKIPPED: chromium is not installed (deploy/local/lib.sh: lp_console_browser, or apt-get install chromium)"
  exit 77
fi
[ -n "$nm" ] || nm=$(lp_web_node_modules) || lp_die "the web console's node modules (lp_web_node_modules)"
[ -d "$nm/playwright-core" ] || lp_die "$nm has no playwright-core"
mkdir -p "$out"
port=$(lp_free_port)
LEADPOET_KAFKA_MODE=off "$bin" serve --listen "127.0.0.1:$port" >"$out/server.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true' EXIT
lp_wait_http "127.0.0.1:$port" 30 || { cat "$out/server.log" >&2; lp_die "leadpoet serve did not answer on port $port"; }
NODE_PATH=$nm node "$here/browser.js" "http://127.0.0.1:$port" "$out" "$chrome"
