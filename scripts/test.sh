#!/usr/bin/env bash
# Runs railyard's whole test suite: prerequisites, formatting, vet, staticcheck,
# unit/integration tests against the local stand-ins, and a short fuzz pass.
# This is the README's test command; .ci/run runs exactly this.
#
# Usage: scripts/test.sh [--quick]   (--quick skips staticcheck and fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

STATICCHECK_VERSION=v0.8.2   # 2025.1.1 (= v0.6.1) is refused by the module proxy here
step() { printf '\n==> %s (%ss)\n' "$*" "$SECONDS"; }

step "checking prerequisites"
need_go="1.26"
if ! command -v go >/dev/null; then
  echo "go is not on PATH: install Go ${need_go} or newer (https://go.dev/dl/)" >&2; exit 1
fi
have_go=$(go env GOVERSION | sed 's/^go//')
if [ "$(printf '%s\n%s\n' "$need_go" "$have_go" | sort -V | head -1)" != "$need_go" ]; then
  echo "Go ${have_go} is too old: railyard needs Go ${need_go} or newer" >&2; exit 1
fi
missing=()
command -v clang >/dev/null || missing+=(clang)          # the BigQuery emulator's go-zetasql
command -v shellcheck >/dev/null || missing+=(shellcheck) # runners' test lints the job-server scripts
command -v curl >/dev/null || missing+=(curl)             # job-server script and ingest tests (real HTTP client)
command -v mosquitto_pub >/dev/null || missing+=(mosquitto-clients) # ingest tests publish over MQTT with mosquitto_pub
command -v systemd-analyze >/dev/null || missing+=(systemd)       # schedule install tests verify the generated units
command -v chromium >/dev/null || missing+=(chromium)   # the serving page's test drives headless Chromium
command -v java >/dev/null || missing+=(default-jdk-headless) # Beam's Flink and Spark job servers (Java 11+)
command -v mvn >/dev/null || missing+=(maven)            # resolves the job servers' jars from Maven Central
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${missing[*]} with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "missing: ${missing[*]}. Install them (Debian/Ubuntu: sudo apt-get install ${missing[*]}) and rerun." >&2
    exit 1
  fi
fi
echo "go ${have_go}, $(clang --version | head -1), shellcheck $(shellcheck --version | sed -n 's/^version: //p'), $(java -version 2>&1 | head -1), $(mvn -v 2>/dev/null | head -1 | sed 's/\x1b\[[0-9;]*m//g')"

step "fetching modules"
go mod download
(cd tools/bigquery-emulator && go mod download)

step "building the BigQuery emulator (once; cached afterwards)"
go run ./cmd/railyard stack --build_only

step "fetching the Flink and Spark job servers with Maven (once: about 1-3 min and 400 MB into ~/.m2; cached afterwards)"
scripts/flink-job-server.sh --fetch-only
scripts/spark-job-server.sh --fetch-only

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './tools/*'))
if [ -n "$unformatted" ]; then
  echo "not gofmt-formatted:" >&2; echo "$unformatted" >&2; exit 1
fi

step "go vet"
go vet ./...

if [ "$quick" = 0 ]; then
  step "staticcheck ${STATICCHECK_VERSION}"
  go run "honnef.co/go/tools/cmd/staticcheck@${STATICCHECK_VERSION}" ./...
fi

step "go test"
# -p 2: two cores; each package that needs BigQuery starts its own emulator.
go test -count=1 -p 2 -timeout 30m ./...

step "tools/bench: DuckDB's views agree with the plain-Go reference (own module, cgo)"
(cd tools/bench && go vet ./... && CGO_ENABLED=1 go test -count=1 -timeout 20m ./...)

if [ "$quick" = 0 ]; then
  step "fuzzing the event decoder for 20s (seed corpus in schemas/testdata/fuzz)"
  go test -run '^$' -fuzz '^FuzzDecodeLine$' -fuzztime 20s ./schemas
  go test -run '^$' -fuzz '^FuzzReadEvent$' -fuzztime 10s ./schemas
  step "fuzzing the decoder's fast path against encoding/json for 15s"
  go test -run '^$' -fuzz '^FuzzDecodeJSONFastPath$' -fuzztime 15s ./schemas
  step "fuzzing the gateway's body parser and the Pub/Sub event-time parser for 10s each"
  go test -run '^$' -fuzz '^FuzzParseBody$' -fuzztime 10s ./internal/ingest
  go test -run '^$' -fuzz '^FuzzEventTimeOf$' -fuzztime 10s ./transforms/pubsubsource
  step "fuzzing the schedule file parser for 10s"
  go test -run '^$' -fuzz '^FuzzParse$' -fuzztime 10s ./internal/schedule
  step "fuzzing the serving API's query-parameter parsing for 10s"
  go test -run '^$' -fuzz '^FuzzParseQuery$' -fuzztime 10s ./internal/serving
fi

step "all tests passed"
