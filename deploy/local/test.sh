#!/usr/bin/env bash
# ./deploy/local/test.sh: installs what is missing, builds (Release with warnings as errors, and the
# ASan+UBSan build), runs every test through ctest in both, runs each libFuzzer target for a bounded time,
# and exits non-zero on any failure. Tests start what they need themselves on free loopback ports and stop
# it by process id.
#   LEADPOET_FUZZ_SECONDS   seconds per fuzz target (default 30; 0 skips the fuzz run, not the build)
#   LEADPOET_TEST_FILTER    a ctest -R regex to run a subset
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$LP_ROOT"
SECONDS=0

lp_install "${LP_PACKAGES[@]}" clang libclang-rt-14-dev python3
PROMTOOL=$("$LP_ROOT/deploy/local/promtool.sh") || lp_die "promtool is needed to check /metrics"
export PROMTOOL
LEADPOET_DEPLOY_NODE_MODULES=$(lp_deploy_node_modules) || lp_die "deployment check tools"
export LEADPOET_DEPLOY_NODE_MODULES
lp_console_browser >/dev/null || lp_log "chromium unavailable: console_browser will be skipped"
lp_postgres >/dev/null || lp_log "postgresql-15 unavailable: the archive tests will be skipped"

jobs=$(nproc)
filter=()
[ -n "${LEADPOET_TEST_FILTER:-}" ] && filter=(-R "$LEADPOET_TEST_FILTER")
failed=0

run_ctest() {
  local dir=$1 name=$2
  lp_log "ctest: $name"
  if ! (cd "$dir" && ctest --output-on-failure --timeout 600 -j"$jobs" "${filter[@]}"); then
    lp_log "FAILED: tests in the $name build"
    failed=1
  fi
}

lp_log "build: Release (-O2, -Werror)"
lp_build "$LP_ROOT/build" Release -DLP_WERROR=ON
run_ctest "$LP_ROOT/build" Release

lp_log "build: Sanitize (ASan + UBSan)"
lp_build "$LP_ROOT/build-asan" Sanitize -DLP_WERROR=ON
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
run_ctest "$LP_ROOT/build-asan" Sanitize

lp_log "build: libFuzzer targets (clang)"
CC=clang CXX=clang++ lp_build "$LP_ROOT/build-fuzz" Sanitize -DLP_BUILD_FUZZ=ON -DLP_BUILD_TESTS=OFF
fuzz_secs=${LEADPOET_FUZZ_SECONDS:-30}
if [ "$fuzz_secs" -gt 0 ]; then
  for f in "$LP_ROOT"/build-fuzz/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    name=$(basename "$f")
    corpus_src="$LP_ROOT/fuzz/corpus/$name"
    work=$(mktemp -d)
    [ -d "$corpus_src" ] && cp -r "$corpus_src/." "$work/"
    lp_log "fuzz: $name for ${fuzz_secs}s"
    if ! (cd "$work" && "$f" -max_total_time="$fuzz_secs" -rss_limit_mb=2048 -print_final_stats=0 \
          "$work" >"$work/fuzz.log" 2>&1); then
      tail -40 "$work/fuzz.log" >&2
      lp_log "FAILED: fuzz target $name (crash input kept in $work)"
      failed=1
    else
      rm -rf "$work"
    fi
  done
fi

if [ $failed -ne 0 ]; then
  lp_log "test.sh: FAILED after ${SECONDS}s"
  exit 1
fi
lp_log "test.sh: all passed in ${SECONDS}s"
