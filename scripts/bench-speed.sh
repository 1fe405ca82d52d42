#!/usr/bin/env bash
# Benchmarks the speed layer on this machine, in one run: pstest and the
# BigQuery emulator on loopback, generated events published at a fixed rate
# into the game-events topic, the speed job on prism in the same process,
# and realtime.user_scores polled until every valid, unique event is
# counted. Reports the sustained events/s through the job and the
# end-to-end latency (publish confirmed → row visible) p50/p99, next to
# pstest's own publish → pull latency on a second subscription of the same
# topic, measured in the same run.
#
# Usage: scripts/bench-speed.sh [--events N] [--rate R] [--user_delay D] [extra speedbench flags]
#   --events N      events to publish (default 20000)
#   --rate R        publish rate in events/s (default 1000)
#   --user_delay D  the job's user-score firing period (default 1s)
# Any other flag goes to the bench program (go run ./internal/speedbench --help),
# e.g. the speed job's --flush_delay.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
mkdir -p /tmp/railyard-bench/bin
echo "==> building the speed benchmark" >&2
go build -o /tmp/railyard-bench/bin/speedbench ./internal/speedbench
exec /tmp/railyard-bench/bin/speedbench "$@"
