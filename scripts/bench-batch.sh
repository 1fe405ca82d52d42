#!/usr/bin/env bash
# Benchmarks the batch layer against the alternatives a user would consider,
# all on the same generated lake, in one run:
#   - reference: a plain-Go single-pass program (internal/reference) doing the
#     same parse + dedupe + aggregation, with all cores and with one worker;
#   - duckdb: the same views as SQL in DuckDB (tools/bench/cmd/duckviews);
#   - batch-<plan>-discard: the Beam pipeline on prism with each execution
#     plan (--plan=hourly, the default, and --plan=global), views computed
#     and counted but not written (--sink=discard);
#   - batch-<plan>-emulator: the same pipeline writing to the BigQuery emulator.
# Then the scaling check: the pipeline's peak RSS at --scale × the events.
# Each figure is one run under /usr/bin/time -v (wall time, CPU time =
# user + system, peak RSS); ratios are against the reference measured in
# this run. On a shared machine wall times are noisy: CPU seconds show how
# much work each run did whatever else was running. The report ends
# with the two targets: the hourly plan without the sink reaches ≥ 25% of
# the reference's events/s, and its peak RSS grows < 2× for 10× the input.
#
# Usage: scripts/bench-batch.sh [--events N] [--scale K] [--plans P,…] [--scale-plans P,…]
#                               [--work DIR] [--no-sink] [--no-scale]
#   --events N         events in the lake (default 1000000)
#   --scale K          also run the pipeline on K×N events for the RSS check (default 10)
#   --plans P,…        plans measured at N events (default hourly,global)
#   --scale-plans P,…  plans measured at K×N events (default hourly; the
#                      global plan's memory grows with the input: 10M events
#                      need about 14 GB)
#   --work DIR         where lakes and binaries go (default /tmp/railyard-bench)
#   --no-sink          skip the runs that write to the BigQuery emulator
#   --no-scale         skip the K×N runs
set -euo pipefail
cd "$(dirname "$0")/.."

events=1000000 scale=10 work=/tmp/railyard-bench sink=1 do_scale=1 plans=hourly,global scale_plans=hourly
while [ $# -gt 0 ]; do
  case "$1" in
    --events) events=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    --plans) plans=$2; shift 2 ;;
    --scale-plans) scale_plans=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --no-sink) sink=0; shift ;;
    --no-scale) do_scale=0; shift ;;
    -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done
for p in ${plans//,/ } ${scale_plans//,/ }; do
  case "$p" in hourly|global) ;; *) echo "unknown plan: $p (hourly or global)" >&2; exit 2 ;; esac
done
command -v /usr/bin/time >/dev/null || { echo "needs GNU time: apt-get install time" >&2; exit 1; }

mkdir -p "$work/bin"
bin=$work/bin
log() { printf '==> %s\n' "$*" >&2; }

log "building railyard, the batch job, the reference and the DuckDB program"
go build -o "$bin/railyard" ./cmd/railyard
go build -o "$bin/batch" ./pipelines/batch
(cd tools/bench && go build -o "$bin/reference" ./cmd/reference && CGO_ENABLED=1 go build -o "$bin/duckviews" ./cmd/duckviews)

date=2026-11-01          # gen's default start; 24 hours = one event date
now=2026-11-02T01:00:00Z # fixed time of processing for the reference and DuckDB

lake_for() { # events → lake dir, generated once
  local n=$1 dir=$work/lake-$1
  if [ ! -f "$dir/.complete" ]; then
    log "generating $n events into $dir"
    rm -rf "$dir"
    "$bin/railyard" gen --out "$dir" --events "$n" --progress log >/dev/null
    touch "$dir/.complete"
  fi
  echo "$dir"
}

# measure NAME EVENTS CMD…: runs CMD under /usr/bin/time -v, records
# "NAME EVENTS SECONDS PEAK_RSS_KB CPU_SECONDS" and keeps the output in
# $work/NAME.log.
results=()
measure() {
  local name=$1 n=$2; shift 2
  log "$name: $*"
  if ! /usr/bin/time -v -o "$work/$name.time" "$@" >"$work/$name.log" 2>&1; then
    echo "$name failed; see $work/$name.log" >&2; tail -20 "$work/$name.log" >&2; exit 1
  fi
  local wall rss cpu
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$work/$name.time")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/$name.time")
  cpu=$(awk -F': ' '/(User|System) time \(seconds\)/ {s+=$2} END {print s}' "$work/$name.time")
  results+=("$name $n $wall $rss $cpu")
}

lake=$(lake_for "$events")
measure reference "$events" "$bin/reference" --root "$lake" --from $date --now $now
measure reference-1-worker "$events" "$bin/reference" --root "$lake" --from $date --now $now --workers 1
measure duckdb "$events" "$bin/duckviews" --root "$lake" --from $date --now $now
for p in ${plans//,/ }; do
  measure "batch-$p-discard" "$events" "$bin/batch" --lake="$lake" --date=$date --sink=discard --plan="$p"
done

if [ "$sink" = 1 ]; then
  log "starting the local stack for the sink runs"
  "$bin/railyard" stack >"$work/stack.out" 2>"$work/stack.err" &
  stack_pid=$!
  trap 'kill $stack_pid 2>/dev/null; wait $stack_pid 2>/dev/null || true' EXIT
  for _ in $(seq 1 600); do grep -q '^bigquery:' "$work/stack.out" 2>/dev/null && break; sleep 1; done
  endpoint=$(awk '/^bigquery:/ {print $2}' "$work/stack.out")
  [ -n "$endpoint" ] || { echo "the local stack did not start; see $work/stack.err" >&2; exit 1; }
  bq=(--bq_project=railyard-local --bq_endpoint="$endpoint" --dataset_prefix=bench_)
  "$bin/railyard" catalog apply "${bq[@]}" >/dev/null
  for p in ${plans//,/ }; do
    measure "batch-$p-emulator" "$events" "$bin/batch" --lake="$lake" --date=$date --plan="$p" "${bq[@]}"
  done
  kill $stack_pid; wait $stack_pid 2>/dev/null || true; trap - EXIT
fi

if [ "$do_scale" = 1 ]; then
  big=$((events * scale))
  for p in ${scale_plans//,/ }; do
    measure "batch-$p-discard-x$scale" "$big" "$bin/batch" --lake="$(lake_for "$big")" --date=$date --sink=discard --plan="$p"
  done
fi

# The report.
field() { printf '%s\n' "${results[@]}" | awk -v n="$1" -v f="$2" '$1==n {print $f}'; }
base_rate=$(printf '%s\n' "${results[@]}" | awk '$1=="reference" {printf "%.0f", $2/$3}')
base1_rate=$(printf '%s\n' "${results[@]}" | awk '$1=="reference-1-worker" {printf "%.0f", $2/$3}')
echo
echo "railyard batch benchmark: $(nproc) cores, $(go env GOVERSION), $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| run | events | seconds | events/s | vs reference | vs reference (1 worker) | CPU s | peak RSS |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for r in "${results[@]}"; do
  # shellcheck disable=SC2086
  set -- $r
  awk -v name="$1" -v n="$2" -v s="$3" -v rss="$4" -v cpu="$5" -v b="$base_rate" -v b1="$base1_rate" 'BEGIN {
    rate = n / s
    printf "| %s | %d | %.1f | %.0f | %.0f%% | %.0f%% | %.1f | %.0f MB |\n", name, n, s, rate, 100*rate/b, 100*rate/b1, cpu, rss/1024 }'
done
echo
for p in ${plans//,/ }; do
  n=$(field "batch-$p-discard" 2) s=$(field "batch-$p-discard" 3)
  awk -v p="$p" -v n="$n" -v s="$s" -v b="$base_rate" 'BEGIN {
    r = 100 * n / s / b
    printf "%s plan, --sink=discard: %.0f%% of the reference'"'"'s events/s (target: >= 25%%) %s\n", p, r, (r >= 25 ? "met" : "NOT MET") }'
done
if [ "$do_scale" = 1 ]; then
  for p in ${scale_plans//,/ }; do
    small=$(field "batch-$p-discard" 4) large=$(field "batch-$p-discard-x$scale" 4)
    [ -n "$small" ] || { echo "$p plan: no run at $events events to compare the x$scale run with (add it to --plans)"; continue; }
    awk -v p="$p" -v a="$small" -v b="$large" -v k="$scale" 'BEGIN {
      printf "%s plan: peak RSS grows %.2fx when the input grows %dx (target: < 2x) %s\n", p, b/a, k, (b/a < 2 ? "met" : "NOT MET") }'
  done
fi
awk -v b="$base_rate" -v b1="$base1_rate" 'BEGIN { printf "\nreference: %.0f events/s (all cores), %.0f events/s (1 worker)\n", b, b1 }'
echo "logs and /usr/bin/time output: $work"
