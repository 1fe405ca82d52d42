#!/usr/bin/env bash
# Benchmarks `railyard serve` against a bare net/http handler answering the
# same bytes, in one run, on loopback, driven by a load generator in a
# separate process (internal/serving/loadgen):
#   - bare: a handler that writes the API's answer, fetched once, as fixed
#     bytes (loadgen -serve_bare): what net/http alone costs for it;
#   - api: `railyard serve` over the BigQuery emulator (refreshing its
#     snapshot every --refresh meanwhile), GET /v1/leaderboard/teams over
#     the fixture's week.
# The fixture (loadgen -plant): six days of batch for 20 teams and 500
# users, covered by the ledger, and today in realtime from two speed runs
# with superseded panes. For each concurrency, N requests go to each server
# in turn. The table gives requests per second and latency (p50, p99); the
# API's line also gives the oldest answer received (now − as_of), checked
# against --refresh plus the longest refresh the server measured.
#
# Usage: scripts/bench-serve.sh [--requests N] [--concurrency "1 8 32"] [--refresh 5s] [--work DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

requests=30000 concurrency="1 8 32" refresh=5s work=/tmp/railyard-bench-serve
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) requests=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --refresh) refresh=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done

mkdir -p "$work/bin"
bin=$work/bin
log() { printf '==> %s\n' "$*" >&2; }

log "building railyard and the load generator"
go build -o "$bin/railyard" ./cmd/railyard
go build -o "$bin/loadgen" ./internal/serving/loadgen

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# wait_for FILE REGEX → the first match the process printed to FILE
wait_for() {
  local file=$1 re=$2 m=""
  for _ in $(seq 1 1200); do
    m=$(grep -oE "$re" "$file" | head -1 || true)
    [ -n "$m" ] && { echo "$m"; return; }
    sleep 0.1
  done
  echo "no '$re' in $file after 120 s" >&2
  exit 1
}

log "starting the BigQuery emulator (railyard stack; the first run builds it, ~11 min)"
"$bin/railyard" stack >"$work/stack.out" 2>&1 &
pids+=("$!")
bq_endpoint=$(wait_for "$work/stack.out" 'bigquery: +http://[0-9.:]+' | awk '{print $2}')
project=$(wait_for "$work/stack.out" 'project: +[^ ]+' | awk '{print $2}')
bqflags=(--bq_project "$project" --bq_endpoint "$bq_endpoint" --dataset_prefix bench_)

log "planting the fixture"
"$bin/loadgen" -plant "${bqflags[@]}"

log "starting railyard serve (--refresh $refresh)"
"$bin/railyard" serve "${bqflags[@]}" --listen 127.0.0.1:0 --refresh "$refresh" >"$work/serve.out" 2>"$work/serve.log" &
serve_pid=$!; pids+=("$serve_pid")
serve_url=$(wait_for "$work/serve.out" 'http://[0-9.:]+')
for _ in $(seq 1 1200); do
  curl -fsS "$serve_url/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$serve_url/readyz" >/dev/null

from=$(date -u -d "today -6 days" +%Y-%m-%dT00:00:00Z)
to=$(date -u -d "tomorrow" +%Y-%m-%dT00:00:00Z)
path="/v1/leaderboard/teams?from=$from&to=$to&limit=10"
curl -fsS "$serve_url$path" >"$work/answer.json"
log "answer: $(wc -c <"$work/answer.json") bytes, $(head -c 120 "$work/answer.json")…"

"$bin/loadgen" -serve_bare 127.0.0.1:0 -body "$work/answer.json" >"$work/bare.out" 2>&1 &
pids+=("$!")
bare_url=$(wait_for "$work/bare.out" 'http://[0-9.:]+')
log "bare: $bare_url; api: $serve_url; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"

results=$work/results.txt
: >"$results"
for c in $concurrency; do
  "$bin/loadgen" -name bare -url "$bare_url$path" -requests "$requests" -concurrency "$c" | tee -a "$results"
  "$bin/loadgen" -name api -url "$serve_url$path" -requests "$requests" -concurrency "$c" | tee -a "$results"
done
metrics=$(curl -fsS "$serve_url/metrics")
max_refresh=$(echo "$metrics" | awk '/^railyard_serve_max_refresh_duration_seconds /{print $2}')
refreshes=$(echo "$metrics" | awk '/^railyard_serve_refreshes_total /{print $2}')
failures=$(echo "$metrics" | awk '/^railyard_serve_refresh_failures_total /{print $2}')
refresh_s=$(awk -v r="$refresh" 'BEGIN { if (r ~ /ms$/) { sub(/ms$/, "", r); print r/1000 } else if (r ~ /m$/) { sub(/m$/, "", r); print r*60 } else { sub(/s$/, "", r); print r } }')

echo
awk -v refresh="$refresh_s" -v maxq="$max_refresh" -v refreshes="$refreshes" -v failures="$failures" '
function field(line, key,   i, n, kv) { n = split(line, kv, " "); for (i = 1; i <= n; i++) if (index(kv[i], key "=") == 1) return substr(kv[i], length(key) + 2); return "" }
/^RESULT/ {
  name = field($0, "name"); c = field($0, "concurrency")
  rps[name, c] = field($0, "rps"); p50[name, c] = field($0, "p50_ms"); p99[name, c] = field($0, "p99_ms"); age[name, c] = field($0, "max_age_s")
  if (!(c in seen)) { seen[c] = 1; order[++n] = c }
}
END {
  printf "| server | concurrency | requests/s | p50 ms | p99 ms | oldest answer s |\n|---|--:|--:|--:|--:|--:|\n"
  for (i = 1; i <= n; i++) { c = order[i]
    printf "| bare | %s | %s | %s | %s | |\n", c, rps["bare", c], p50["bare", c], p99["bare", c]
    printf "| api | %s | %s | %s | %s | %s |\n", c, rps["api", c], p50["api", c], p99["api", c], age["api", c]
  }
  printf "\n"
  ok = 1; oldest = 0
  for (i = 1; i <= n; i++) { c = order[i]
    ratio = rps["api", c] / rps["bare", c]
    printf "concurrency %s: api/bare requests/s = %.0f %%\n", c, 100 * ratio
    if (c == 8) {
      if (ratio < 0.5) { ok = 0; printf "  target missed: below 50 %% of the bare handler at concurrency 8\n" }
      if (p99["api", c] + 0 >= 5) { ok = 0; printf "  target missed: p99 %s ms is not under 5 ms at concurrency 8\n", p99["api", c] }
    }
    if (age["api", c] + 0 > oldest) oldest = age["api", c] + 0
  }
  printf "oldest answer %.3f s; refresh %s s + longest refresh %s s = %.3f s (%s refreshes, %s failed)\n", oldest, refresh, maxq, refresh + maxq, refreshes, failures
  if (oldest > refresh + maxq) { ok = 0; printf "  target missed: an answer was older than the refresh interval plus one refresh\n" }
  print (ok ? "targets met" : "targets NOT met")
}' "$results"
