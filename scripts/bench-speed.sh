#!/usr/bin/env bash
# Benchmarks the speed layer on this machine, every role in a process of
# its own: pstest (the bench binary re-executed with -serve_pubsub), the
# BigQuery emulator, the speed job (pipelines/speed; prism in the job's
# process, or --runner=flink with a Beam Flink job server the bench starts)
# and the driver, which publishes generated events at a fixed rate into the
# game-events topic and polls realtime.user_scores until every valid,
# unique event is counted.
#
# Reports the sustained events/s through the job, publish confirmed → row
# visible p50/p99 next to pstest's own publish → pull latency on a second
# subscription of the same topic (same run), the CPU time per published
# event of the job, pstest, the emulator (and the Flink job server) over the
# measured interval, the load average, the job's peak RSS and RSS timeline,
# and the job's report of its dedupe state.
#
# Usage: scripts/bench-speed.sh [--events N | --duration D] [--rate R] [--runner prism|flink]
#                               [--endpoint HOST:PORT] [--cpuprofile FILE] [--memprofile FILE] [--repeat K]
#                               [other speedbench flags] [-- speed job flags]
#   --events N        events to publish (default 20000)
#   --duration D      publish for D at --rate instead (e.g. 10m)
#   --rate R          publish rate in events/s (default 1000)
#   --runner R        prism (default) or flink
#   --endpoint E      with --runner=flink, a running Flink job server (default: start one)
#   --cpuprofile F    CPU profile of the job's process (prism + SDK workers)
#   --memprofile F    heap profile of the job's process at its largest Go heap
#                     (go tool pprof -sample_index=inuse_space -top BIN F)
#   --repeat K        run K times, one after another (default 1)
#   --preload         publish every event first, then start the job and measure
#                     how fast it drains the backlog (the job's capacity, apart
#                     from how fast the driver and pstest can publish)
# Other flags go to the bench (go run ./internal/speedbench --help); flags
# after -- go to the speed job, e.g. -- --flush_delay 1s.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  -h|--help) sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
repeat=1 args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --repeat) repeat=$2; shift 2 ;;
    --) args+=("$@"); break ;;
    *) args+=("$1"); shift ;;
  esac
done
bin=/tmp/railyard-bench-speed/bin
mkdir -p "$bin"
echo "==> building the speed benchmark and the speed job" >&2
go build -o "$bin/speedbench" ./internal/speedbench
go build -o "$bin/speed" ./pipelines/speed
for i in $(seq 1 "$repeat"); do
  [ "$repeat" -gt 1 ] && echo "==> run $i of $repeat" >&2
  "$bin/speedbench" --job_bin "$bin/speed" ${args[@]+"${args[@]}"}
done
