#!/usr/bin/env bash
# CI smoke run of perf/scale_curve (ctest perf_smoke_scale_curve): one tiny size (2,000 leads), a few
# seconds of queries, no plot. Asserts that the table and the JSON rows are written, that the server
# answered every query without an error and held the market, and that bad usage exits 2 and a missing
# binary exits 1; never a time.
#   smoke.sh BUILD_DIR
set -u -o pipefail
BUILD=${1:?build dir}
SC="$BUILD/perf/scale_curve/scale_curve"
TMP=$(mktemp -d /tmp/scale_curve_smoke.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fail() {
  echo "FAIL: $*"
  for f in "$TMP"/sc.err "$TMP"/w/run-*/*.log "$TMP"/w/run-*/*.err; do [[ -s $f ]] && { echo "--- $f"; tail -n 40 "$f"; }; done
  exit 1
}
holds() {
  python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"
}

[[ -x $SC ]] || fail "$SC is missing (configure the tree)"
"$SC" --sizes 2000 --work "$TMP/w" --qps 20 --duration 3 --warmup 1 --connections 4 --no-plot --out "$TMP/t.md" \
  > "$TMP/sc.out" 2> "$TMP/sc.err" || fail "scale_curve exit $?"
grep -q '^| size | leads | snippets | RSS MB | B/snippet | p50 ms | p99 ms | CPU ms/query | cost per lead' "$TMP/t.md" \
  || fail "no table header in $TMP/t.md: $(cat "$TMP/t.md")"
grep -q '^| 2k | ' "$TMP/t.md" || fail "no row for 2k: $(cat "$TMP/t.md")"
cmp -s "$TMP/t.md" "$TMP/sc.out" || fail "the table on stdout differs from --out"
holds "$TMP/w/scale-curve.json" 'len(j["rows"]) == 1 and all(r["errors"] == 0 and r["lost"] == 0 and r["unsent"] == 0 and r["ok"] > 0 and r["snippets"] > 0 and r["leads"] > 0 and r["rss_bytes"] > 0 and r["bytes_per_snippet"] > 0 and r["cpu_ms_per_query"] is not None and r["cpu_ms_per_query"] >= 0 and r["usd_per_lead"] is not None and r["queries_accounted"] >= r["ok"] for r in j["rows"])' \
  || fail "errors or missing figures: $(cat "$TMP/w/scale-curve.json")"
[[ -s $TMP/w/world-2000x10/snippets.jsonl ]] || fail "the market was not cached under --work"
grep -q 'no plot' "$TMP/sc.err" && fail "--no-plot must not mention the plot"
[[ -e $TMP/w/scale-curve.png ]] && fail "--no-plot wrote a plot"
# The server was stopped by its pid: no leadpoet serve of this run is left.
for log in "$TMP"/w/run-*/serve-*.log; do
  pid=$(sed -n 's/^scale_curve: server pid \([0-9]*\),.*/\1/p' "$TMP/sc.err" | head -1)
  [[ -n $pid ]] && kill -0 "$pid" 2> /dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "leadpoet serve" \
    && fail "the server (pid $pid) is still running"
  grep -qE "ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:" "$log" && fail "a sanitizer reported an error in $log"
done

# Errors: usage -> 2, a binary that is not there -> 1; nothing is measured then.
"$SC" --sizes 10x > /dev/null 2>&1; [[ $? == 2 ]] || fail "a bad --sizes must exit 2"
"$SC" --sizes "" > /dev/null 2>&1; [[ $? == 2 ]] || fail "an empty --sizes must exit 2"
"$SC" --qps fast > /dev/null 2>&1; [[ $? == 2 ]] || fail "a bad --qps must exit 2"
"$SC" --no-such-option > /dev/null 2>&1; [[ $? == 2 ]] || fail "an unknown option must exit 2"
"$SC" --help | grep -q -- "--sizes" || fail "--help must describe --sizes"
"$SC" --sizes 2000 --work "$TMP/w2" --leadpoet "$TMP/none" > /dev/null 2> "$TMP/miss.err"; [[ $? == 1 ]] \
  || fail "a missing leadpoet binary must exit 1"
grep -q "is not built" "$TMP/miss.err" || fail "a missing binary must be named: $(cat "$TMP/miss.err")"
echo "perf_smoke scale_curve: ok"
