#!/usr/bin/env bash
# miner_run.sh LEADPOET_BINARY: tests dev/run.sh (ctest deploy_miner, through check.sh).
#  1. Against the real server (`leadpoet serve` on a free loopback port; no broker or Redis set: embedded mode): a CSV file with quoted
#     commas, a free-mail domain and an e-mail address, in batches of 2; then JSON Lines with a default miner.
#     The summary counts and the rejection codes are the server's; the accepted lead is then served.
#  2. Against a stand-in server (python3 stdlib) that answers 429 with Retry-After, then 503, then 202: the
#     batch is retried until accepted and every request carries the API key.
#  3. A 413 is not retried; a server that is not there is retried, then reported as not delivered (exit 1).
#  4. Usage errors exit 2; a line that is not JSON stops the run before anything is sent (exit 1).
set -uo pipefail
bin=${1:?usage: miner_run.sh LEADPOET_BINARY}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
run="$here/../../dev/run.sh"
source "$here/../../deploy/local/lib.sh"
work=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
fails=0 passes=0
ok() { passes=$((passes + 1)); echo "ok: $1"; }
fail() { fails=$((fails + 1)); echo "FAIL: $1" >&2; [ -n "${2:-}" ] && sed 's/^/  | /' "$2" >&2; }
expect() { # expect NAME WANTED_EXIT WANTED_GREP OUTPUT_FILE -- command...
  local name=$1 want=$2 pattern=$3 out=$4 rc
  shift 5
  "$@" >"$out" 2>&1
  rc=$?
  if [ "$rc" != "$want" ]; then fail "$name: exit $rc, expected $want" "$out"
  elif [ -n "$pattern" ] && ! grep -qE -- "$pattern" "$out"; then fail "$name: no line matching /$pattern/" "$out"
  else ok "$name"; fi
}

# 1. The real server.
port=$(lp_free_port)
env -u KAFKA_BOOTSTRAP_BROKERS -u LEADPOET_KAFKA_BOOTSTRAP_BROKERS -u REDIS_ENDPOINT -u LEADPOET_REDIS_ENDPOINT "$bin" serve --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
pids+=($!)
lp_wait_http "127.0.0.1:$port" 20 || { fail "leadpoet serve did not answer /healthz" "$work/server.log"; exit 1; }
now=$(($(date +%s) * 1000))
cat >"$work/obs.csv" <<CSV
id,miner,ts,domain,name,employees,country,kind,text,tech_added
c1,m1,$now,acme.com,Acme,250,US,hiring,"Acme is hiring a billing engineer, remote",stripe;kubernetes
c2,m1,$now,gmail.com,Someone,,,news,a consumer,
c3,m1,$now,initech.io,Initech,40,DE,tech,"contact bob@initech.io, ""now""",
c4,m1,,globex.com,Globex,1200,US,funding,Globex raised a Series B,
CSV
expect "CSV to the real server" 0 \
  '^summary: accepted 2, rejected 2, not delivered 0 \(of 4 snippets in 2 batches\); rejected by code: b2c_domain 1, pii 1$' \
  "$work/csv.out" -- "$run" -u "http://127.0.0.1:$port" -k test-key -b 2 "$work/obs.csv"
grep -q '^rejected: snippet 3: pii:' "$work/csv.out" && ok "rejection names the snippet's line" || fail "rejection line" "$work/csv.out"
lead=$(curl -s "http://127.0.0.1:$port/v1/leads/acme.com")
[ "$(jq -r .domain <<<"$lead")" = acme.com ] && ok "the accepted lead is served" || fail "GET /v1/leads/acme.com: $lead"
printf '{"id":"j1","ts":%s,"lead":{"domain":"hooli.com"},"kind":"news","text":"Hooli opens an office"}\n\n{"id":"j2","ts":%s,"lead":{"domain":"hooli.com"},"kind":"bogus","text":"x"}\n' "$now" "$now" >"$work/obs.jsonl"
expect "JSON Lines with a default miner" 0 '^summary: accepted 1, rejected 1, not delivered 0 \(of 2 snippets in 1 batches\); rejected by code: bad_field 1$' \
  "$work/jsonl.out" -- "$run" -u "http://127.0.0.1:$port" -m m2 -q "$work/obs.jsonl"
[ "$(curl -s "http://127.0.0.1:$port/v1/miners/m2" | jq -r .miner)" = m2 ] && ok "the default miner is used" || fail "GET /v1/miners/m2"

# 2 and 3. The stand-in server: answers in the order of $work/plan, one status per request, and logs requests.
cat >"$work/fake.py" <<'PY'
import http.server, json, sys
plan = open(sys.argv[2]).read().split()
log = open(sys.argv[3], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        log.write("%s %s %d\n" % (self.path, self.headers.get("Authorization", "-").replace(" ", "_"), len(body)))
        status = int(plan.pop(0)) if plan else 202
        out = json.dumps({"accepted": len(body), "rejected": []} if status == 202 else
                         {"error": {"code": "x", "message": "status %d" % status}}).encode()
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "0")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
start_fake() { # start_fake PLAN...
  printf '%s\n' "$@" >"$work/plan"
  : >"$work/requests"
  fport=$(lp_free_port)
  python3 "$work/fake.py" "$fport" "$work/plan" "$work/requests" &
  pids+=($!)
  local i
  for ((i = 0; i < 100; i++)); do (exec 3<>"/dev/tcp/127.0.0.1/$fport") 2>/dev/null && return 0; sleep 0.05; done
  fail "the stand-in server did not start"
}
start_fake 429 503 202
expect "429 then 503 then 202: retried" 0 '^summary: accepted 2, rejected 0, not delivered 0' "$work/retry.out" -- \
  "$run" -u "http://127.0.0.1:$fport" -k k1 --backoff-ms 10 "$work/obs.jsonl"
[ "$(grep -c '^/v1/snippets Bearer_k1 2$' "$work/requests")" = 3 ] &&
  ok "three requests, each with the API key" || fail "requests seen by the stand-in" "$work/requests"
grep -q 'retry 1/6 in 0s' "$work/retry.out" && ok "Retry-After is honoured" || fail "Retry-After" "$work/retry.out"

start_fake 413
expect "413 is not retried" 1 'not delivered: HTTP 413 x: status 413' "$work/413.out" -- \
  "$run" -u "http://127.0.0.1:$fport" --backoff-ms 10 "$work/obs.jsonl"
[ "$(wc -l <"$work/requests")" = 1 ] && ok "one request for a 413" || fail "requests for a 413" "$work/requests"

dead=$(lp_free_port)
expect "no server: retried, then not delivered" 1 '^summary: accepted 0, rejected 0, not delivered 2' "$work/dead.out" -- \
  "$run" -u "http://127.0.0.1:$dead" -r 2 --backoff-ms 1 "$work/obs.jsonl"
[ "$(grep -c 'retry [12]/2' "$work/dead.out")" = 2 ] && ok "two retries when nothing answers" || fail "retries" "$work/dead.out"

# 4. Usage and input errors.
expect "no file: usage" 2 'usage|no input file' "$work/u1.out" -- "$run"
expect "bad batch size" 2 'batch must be' "$work/u2.out" -- "$run" -b 0 "$work/obs.jsonl"
expect "unknown option" 2 'unknown option' "$work/u3.out" -- "$run" --frobnicate "$work/obs.jsonl"
printf '{"id":"a"}\nnot json\n' >"$work/bad.jsonl"
start_fake 202
expect "a line that is not JSON" 1 'bad.jsonl' "$work/bad.out" -- "$run" -u "http://127.0.0.1:$fport" "$work/bad.jsonl"
[ ! -s "$work/requests" ] && ok "nothing sent for a bad file" || fail "a bad file was sent" "$work/requests"
expect "a missing file" 1 'cannot read' "$work/missing.out" -- "$run" "$work/nope.csv"

# The server stops cleanly (an ASan build reports leaks at exit).
kill -TERM "${pids[0]}"; wait "${pids[0]}"; rc=$?
pids=("${pids[@]:1}")
[ "$rc" = 0 ] && ok "leadpoet serve exits 0 on SIGTERM" || fail "leadpoet serve exited $rc" "$work/server.log"
grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$work/server.log" && fail "sanitizer report" "$work/server.log"
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
