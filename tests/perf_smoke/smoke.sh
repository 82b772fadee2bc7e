#!/usr/bin/env bash
# Smoke runs of the load tools of issue 8 (perf/loadgen, load_test, validate_sla, freshness, cost_test,
# cost_report) on a tiny market, a few seconds each. They assert only that each tool runs, writes what it
# promises, and that the server answered without errors; never a time.
#   smoke.sh CHECK BUILD_DIR SOURCE_DIR     (CHECK: loadgen, load_test, load_test_kafka, freshness, cost)
set -u -o pipefail
CHECK=${1:?check}; BUILD=${2:?build dir}; SRC=${3:?source dir}
P="$BUILD/perf"
TMP=$(mktemp -d /tmp/perf_smoke.XXXXXX)
SERVER=""
cleanup() {
  if [[ -n $SERVER ]]; then kill -TERM "$SERVER" 2> /dev/null; wait "$SERVER" 2> /dev/null; fi
  # A tool that died abnormally (a sanitizer abort) leaves the server it started: its pid is on the tool's
  # stderr ("server pid N ..."); stopped here when it is still that leadpoet server.
  local p
  for p in $(sed -n 's/^server pid \([0-9]*\) .*/\1/p' "$TMP"/*.err 2> /dev/null); do
    if tr '\0' ' ' < "/proc/$p/cmdline" 2> /dev/null | grep -q "leadpoet serve"; then kill -TERM "$p"; fi
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$TMP"/*.log "$TMP"/*.err; do [[ -s $f ]] && { echo "--- $f"; tail -n 40 "$f"; }; done; exit 1; }

world() {
  "$P/world/world" --out "$TMP/w" --leads 200 --snippets 2000 --outcomes 0 --now now --quiet || fail "world"
}

# A server on a free port (port 0: it logs the one it got), loaded with the tiny world.
serve() {
  LEADPOET_SERVER_STATE_DIR="$TMP/state" "$BUILD/leadpoet" serve --listen 127.0.0.1:0 > "$TMP/serve.log" 2>&1 &
  SERVER=$!
  local port=""
  for _ in $(seq 1 300); do
    port=$(sed -n 's/.*msg="listening".* port=\([0-9]*\).*/\1/p' "$TMP/serve.log" | head -1)
    [[ -n $port ]] && grep -q 'msg="ready"' "$TMP/serve.log" && break
    sleep 0.1
  done
  [[ -n $port ]] || fail "the server did not start"
  URL="http://127.0.0.1:$port"
  "$BUILD/leadpoet" ingest "$TMP/w/snippets.jsonl" --url "$URL" --batch 1000 --quiet || fail "ingest"
}

# json FILE PYTHON-EXPR: 0 when the expression over j holds (jq-free: python3, else a grep fallback).
holds() {
  python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"
}

case "$CHECK" in
  loadgen)
    world; serve
    "$P/loadgen/loadgen" --url "$URL" --prompts "$TMP/w/prompts.jsonl" --qps 20 --duration 2 --warmup 0.5 \
      --step 10 --steps 2 --connections 4 --json > "$TMP/lg.json" 2> "$TMP/lg.err" || fail "loadgen exit $?"
    holds "$TMP/lg.json" 'len(j["stages"]) == 2 and all(s["errors"] == 0 and s["ok"] > 0 for s in j["stages"]) and "p999" in j["stages"][0]["latency_ms"]' \
      || fail "loadgen: errors or missing figures: $(cat "$TMP/lg.json")"
    "$P/loadgen/loadgen" --url "$URL" --prompts "$TMP/w/prompts.jsonl" --qps 10 --duration 1 > "$TMP/lg.txt" 2>&1 || fail "loadgen text"
    grep -q "p99" "$TMP/lg.txt" && grep -q "errors: 0" "$TMP/lg.txt" || fail "loadgen text output: $(cat "$TMP/lg.txt")"
    "$P/loadgen/loadgen" --url "$URL" > /dev/null 2>&1; [[ $? == 2 ]] || fail "loadgen without --prompts must exit 2"
    "$P/loadgen/loadgen" --url "$URL" --prompts "$TMP/none" > /dev/null 2>&1; [[ $? == 1 ]] || fail "loadgen with a missing file must exit 1"
    ;;
  load_test)
    world
    "$P/load_test/load_test" --world "$TMP/w" --qps 10 --duration 3 --warmup 1 --connections 4 --ingest-rate 200 \
      --ingest-connections 2 --freshness 5 --burst-qps 20 --burst-duration 2 --burst-connections 8 \
      --search-from 10 --search-max 20 --search-step 1 --search-refine 0 --search-connections 8 \
      --out "$TMP/lt.json" > "$TMP/lt.txt" 2> "$TMP/lt.err" || fail "load_test exit $?"
    grep -q "mixed" "$TMP/lt.txt" || fail "load_test printed no table"
    holds "$TMP/lt.json" 'j["mixed"]["errors"] == 0 and j["mixed"]["ok"] > 0 and j["burst"]["errors"] == 0 and len(j["search"]["steps"]) >= 1 and j["ingest"]["posts_failed"] == 0 and j["ingest"]["lines_posted"] > 0 and j["freshness"]["post_errors"] == 0 and j["freshness"]["query_errors"] == 0 and j["server"]["leads"] > 0' \
      || fail "load_test: errors or missing figures: $(cat "$TMP/lt.json")"
    # validate_sla: a table either way (exit 0 or 1), 0 for an SLA that holds, 1 for one that cannot, 2 for a bad file
    "$P/validate_sla/validate_sla" --sla "$SRC/perf/sla/seed.sla" --sla "$SRC/perf/sla/leadpoet.sla" "$TMP/lt.json" > "$TMP/sla.txt" 2>&1
    rc=$?; [[ $rc == 0 || $rc == 1 ]] || fail "validate_sla exit $rc: $(cat "$TMP/sla.txt")"
    grep -q "checks hold" "$TMP/sla.txt" || fail "validate_sla printed no verdict"
    printf 'name smoke\nmixed.errors == 0 no error\nburst.errors <= 0\n' > "$TMP/ok.sla"
    "$P/validate_sla/validate_sla" --sla "$TMP/ok.sla" "$TMP/lt.json" > /dev/null || fail "validate_sla: a holding SLA must exit 0"
    printf 'mixed.errors > 0\n' > "$TMP/no.sla"
    "$P/validate_sla/validate_sla" --sla "$TMP/no.sla" "$TMP/lt.json" > /dev/null; [[ $? == 1 ]] || fail "validate_sla: a failing SLA must exit 1"
    printf 'no.such.figure >= 1\n' > "$TMP/miss.sla"
    "$P/validate_sla/validate_sla" --sla "$TMP/miss.sla" "$TMP/lt.json" > /dev/null; [[ $? == 1 ]] || fail "validate_sla: a missing figure must fail"
    printf 'mixed.errors ~ 0\n' > "$TMP/bad.sla"
    "$P/validate_sla/validate_sla" --sla "$TMP/bad.sla" "$TMP/lt.json" > /dev/null 2>&1; [[ $? == 2 ]] || fail "validate_sla: a bad line must exit 2"
    ;;
  load_test_kafka)
    world
    "$P/load_test/load_test" --world "$TMP/w" --ingest kafka --qps 10 --duration 3 --warmup 1 --connections 4 \
      --ingest-rate 200 --freshness 5 --burst-qps 0 --search-max 0 --out "$TMP/lt.json" > "$TMP/lt.txt" 2> "$TMP/lt.err" \
      || fail "load_test --ingest kafka exit $?"
    holds "$TMP/lt.json" 'j["mixed"]["errors"] == 0 and j["ingest"]["mode"] == "kafka" and j["ingest"]["producer_exit"] == 0 and j["ingest"]["server_received_per_s"] > 0 and j["freshness"]["post_errors"] == 0' \
      || fail "load_test --ingest kafka: $(cat "$TMP/lt.json")"
    ;;
  freshness)
    world
    "$P/freshness/freshness" --world "$TMP/w" --events 10 --qps 5 --threads 2 --json > "$TMP/fr.json" 2> "$TMP/fr.err" || fail "freshness exit $?"
    holds "$TMP/fr.json" 'j["freshness"]["found"] == 10 and j["freshness"]["post_errors"] == 0 and j["freshness"]["query_errors"] == 0 and j["freshness"]["p99_ms"] is not None and j["background"]["errors"] == 0' \
      || fail "freshness: $(cat "$TMP/fr.json")"
    ;;
  cost)
    world
    "$P/cost/cost_test" --world "$TMP/w" --leads 50 --json > "$TMP/ct.json" 2> "$TMP/ct.err" || fail "cost_test exit $?"
    holds "$TMP/ct.json" 'j["cost"]["leads_delivered"] >= 50 and j["cost"]["errors"] == 0 and j["cost"]["usd_per_lead_mean"] >= 0 and j["server"]["leads_delivered"] >= 50' \
      || fail "cost_test: $(cat "$TMP/ct.json")"
    serve
    "$BUILD/leadpoet" query "payments" --url "$URL" > /dev/null 2>&1 || fail "leadpoet query"
    "$P/cost/cost_report" --url "$URL" --json > "$TMP/cr.json" 2> "$TMP/cr.err" || fail "cost_report exit $?"
    holds "$TMP/cr.json" 'j["cost"]["queries"] >= 1' || fail "cost_report: $(cat "$TMP/cr.json")"
    if command -v curl > /dev/null && curl -sf "$URL/metrics" > "$TMP/m.txt"; then "$P/cost/cost_report" --metrics "$TMP/m.txt" | grep -q "USD per lead" || fail "cost_report --metrics"; fi
    "$P/cost/cost_report" --metrics "$TMP/none" > /dev/null 2>&1; [[ $? == 1 ]] || fail "cost_report: a missing file must exit 1"
    ;;
  *) echo "unknown check $CHECK"; exit 2 ;;
esac
# The tools' stderr went to files: a sanitizer report there fails the check too.
if grep -lE "ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:" "$TMP"/*.err "$TMP"/*.txt 2> /dev/null; then
  fail "a sanitizer reported an error"
fi
echo "perf_smoke $CHECK: ok"
