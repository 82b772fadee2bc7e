#!/usr/bin/env bash
# dev/run.sh: posts a miner's observations to a Leadpoet server as snippets (contract section 1), in batches,
# and prints a summary of what was accepted and rejected.
#
#   dev/run.sh [options] FILE...        FILE: .csv, or .jsonl / .ndjson (one snippet per line); - = stdin JSONL
#     -u, --url URL          server (default $LEADPOET_URL or http://127.0.0.1:8080)
#     -k, --api-key KEY      sent as "Authorization: Bearer KEY" (default $LEADPOET_API_KEY; none when empty)
#     -m, --miner NAME       miner of snippets that name none (default $LEADPOET_MINER)
#     -b, --batch N          snippets per POST /v1/snippets, 1..10000 (default 500)
#     -r, --retries N        retries of a batch answered 429, 503, another 5xx or not at all (default 6)
#     --backoff-ms MS        first retry delay; doubles each time, capped at 60 s, with jitter (default 500).
#                            A Retry-After header (seconds) from the server is used instead when present.
#     -q, --quiet            no line per rejected snippet, only the summary
#
# CSV: a header line naming the columns, in any order: id, miner, ts (ms since the epoch, or empty = now),
# domain, name, industry, employees, country, role, kind, text, url, tech_added, tech_removed (lists separated
# by ';'). Fields may be quoted ("...", "" inside for a quote). Empty cells are left out.
#
# Exit: 0 when every batch was answered 202 (rejected snippets are reported, not an error); 1 when a batch
# could not be delivered after its retries, or a file cannot be read; 2 on a usage error.
# Needs bash, curl, jq, and python3 for CSV files.
set -uo pipefail

usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "run.sh: $*" >&2; exit "${2:-1}"; }

url=${LEADPOET_URL:-http://127.0.0.1:8080}
key=${LEADPOET_API_KEY:-}
miner=${LEADPOET_MINER:-}
batch=500 retries=6 backoff_ms=500 quiet=0
files=()
while [ $# -gt 0 ]; do
  case "$1" in
    -u|--url) [ $# -ge 2 ] || usage; url=$2; shift 2 ;;
    -k|--api-key) [ $# -ge 2 ] || usage; key=$2; shift 2 ;;
    -m|--miner) [ $# -ge 2 ] || usage; miner=$2; shift 2 ;;
    -b|--batch) [ $# -ge 2 ] || usage; batch=$2; shift 2 ;;
    -r|--retries) [ $# -ge 2 ] || usage; retries=$2; shift 2 ;;
    --backoff-ms) [ $# -ge 2 ] || usage; backoff_ms=$2; shift 2 ;;
    -q|--quiet) quiet=1; shift ;;
    -h|--help) usage ;;
    --) shift; files+=("$@"); break ;;
    -?*) echo "run.sh: unknown option $1" >&2; usage ;;
    *) files+=("$1"); shift ;;
  esac
done
[ ${#files[@]} -gt 0 ] || { echo "run.sh: no input file" >&2; usage; }
if ! [[ $batch =~ ^[0-9]+$ ]] || [ "$batch" -lt 1 ] || [ "$batch" -gt 10000 ]; then die "--batch must be 1..10000" 2; fi
[[ $retries =~ ^[0-9]+$ ]] || die "--retries must be a number" 2
[[ $backoff_ms =~ ^[0-9]+$ ]] || die "--backoff-ms must be a number of milliseconds" 2
for tool in curl jq; do command -v "$tool" >/dev/null || die "$tool is needed"; done
url=${url%/}

work=$(mktemp -d) || die "cannot create a temporary folder"
trap 'rm -rf "$work"' EXIT

# CSV -> JSON Lines (python3's csv module: quoted fields, commas and newlines inside them).
csv_to_jsonl() {
  command -v python3 >/dev/null || die "python3 is needed to read CSV files"
  python3 - "$1" <<'PY'
import csv, json, sys, time
LISTS = ("tech_added", "tech_removed")
LEAD = ("domain", "name", "industry", "employees", "country", "role")
with open(sys.argv[1], newline="", encoding="utf-8-sig") as f:
    for row in csv.DictReader(f):
        out, lead = {}, {}
        for k, v in row.items():
            if k is None or v is None or v.strip() == "":
                continue
            k, v = k.strip(), v.strip()
            if k in LEAD:
                lead[k] = int(v) if k == "employees" and v.isdigit() else v
            elif k in LISTS:
                out[k] = [t.strip() for t in v.split(";") if t.strip()]
            elif k == "ts":
                out[k] = int(v) if v.lstrip("-").isdigit() else v
            else:
                out[k] = v
        out.setdefault("ts", int(time.time() * 1000))
        if lead:
            out["lead"] = lead
        print(json.dumps(out, ensure_ascii=False))
PY
}

# All inputs, one snippet per line, with the default miner filled in; a line that is not a JSON object
# stops the run before anything is sent.
all="$work/all.jsonl"
: >"$all"
for f in "${files[@]}"; do
  if [ "$f" = - ]; then src=/dev/stdin
  else [ -r "$f" ] || die "cannot read $f"; src=$f
  fi
  case "$f" in
    *.csv|*.CSV) csv_to_jsonl "$src" >"$work/in.jsonl" || die "cannot read CSV $f" ;;
    *) grep -v '^[[:space:]]*$' "$src" >"$work/in.jsonl" || true ;;
  esac
  if ! jq -c --arg miner "$miner" 'if type != "object" then error("not a JSON object")
        elif ($miner != "" and (has("miner") | not)) then . + {miner: $miner} else . end' \
        "$work/in.jsonl" >>"$all" 2>"$work/jq.err"; then
    die "$f: $(head -n 1 "$work/jq.err")"
  fi
done
total=$(wc -l <"$all")
[ "$total" -gt 0 ] || die "no snippets in ${files[*]}"

split -l "$batch" -d -a 6 "$all" "$work/batch."

# Seconds to wait before retry number $1 (1-based): Retry-After when the server gave one, else
# backoff_ms * 2^(n-1), capped at 60 s, plus up to 20 % jitter. Prints a decimal number of seconds.
delay_for() {
  local n=$1 ra=$2 ms
  if [[ $ra =~ ^[0-9]+$ ]]; then echo "$ra"; return; fi
  ms=$backoff_ms
  while [ "$n" -gt 1 ] && [ "$ms" -lt 60000 ]; do ms=$((ms * 2)); n=$((n - 1)); done
  [ "$ms" -le 60000 ] || ms=60000
  ms=$((ms + (ms > 0 ? RANDOM % (ms / 5 + 1) : 0)))
  printf '%d.%03d\n' $((ms / 1000)) $((ms % 1000))
}

auth=()
[ -n "$key" ] && auth=(-H "Authorization: Bearer $key")
accepted=0 rejected=0 failed=0 offset=0 batches=0
declare -A codes=()
for b in "$work"/batch.*; do
  n=$(wc -l <"$b")
  jq -s -c . "$b" >"$work/body.json"
  attempt=0
  while :; do
    status=$(curl -sS -o "$work/resp.json" -D "$work/headers" -w '%{http_code}' --max-time 120 \
      -X POST -H 'Content-Type: application/json' -H 'Accept: application/json' "${auth[@]}" \
      --data-binary "@$work/body.json" "$url/v1/snippets" 2>"$work/curl.err") || status=000
    case "$status" in
      202) break ;;
      429|500|502|503|504|000)
        if [ "$attempt" -ge "$retries" ]; then break; fi
        attempt=$((attempt + 1))
        ra=$(tr -d '\r' <"$work/headers" 2>/dev/null | awk -F': *' 'tolower($1) == "retry-after" { print $2 }' | tail -n 1)
        wait_s=$(delay_for "$attempt" "$ra")
        why=$([ "$status" = 000 ] && head -n 1 "$work/curl.err" || echo "HTTP $status")
        echo "run.sh: batch at snippet $((offset + 1)): $why; retry $attempt/$retries in ${wait_s}s" >&2
        sleep "$wait_s"
        ;;
      *) break ;;
    esac
  done
  batches=$((batches + 1))
  if [ "$status" = 202 ]; then
    a=$(jq -r '.accepted // 0' "$work/resp.json" 2>/dev/null) || a=0
    accepted=$((accepted + a))
    while IFS=$'\t' read -r idx code msg; do
      [ -n "$idx" ] || continue
      rejected=$((rejected + 1))
      codes[$code]=$(( ${codes[$code]:-0} + 1 ))
      [ "$quiet" = 1 ] || echo "rejected: snippet $((offset + idx + 1)): $code: $msg"
    done < <(jq -r '.rejected[]? | [.index, .code, (.message // "")] | @tsv' "$work/resp.json" 2>/dev/null)
  else
    failed=$((failed + n))
    err=$(jq -r '.error | "\(.code): \(.message)"' "$work/resp.json" 2>/dev/null || true)
    [ "$status" = 000 ] && err=$(head -n 1 "$work/curl.err")
    echo "run.sh: batch of snippets $((offset + 1))..$((offset + n)) not delivered: HTTP $status ${err:-}" >&2
  fi
  offset=$((offset + n))
done

summary="accepted $accepted, rejected $rejected, not delivered $failed (of $total snippets in $batches batches)"
by=""
[ ${#codes[@]} -gt 0 ] && while read -r c; do by="$by${by:+, }$c ${codes[$c]}"; done < <(printf '%s\n' "${!codes[@]}" | sort)
[ -n "$by" ] && summary="$summary; rejected by code: $by"
echo "summary: $summary"
[ "$failed" -eq 0 ]
