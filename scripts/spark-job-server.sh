#!/usr/bin/env bash
# Start Apache Beam's Spark job server for railyard batch pipelines (--runner=spark).
# Run with --help for usage.
set -euo pipefail

readonly DEFAULT_BEAM_VERSION="2.77.0"  # keep in step with github.com/apache/beam/sdks/v2 in go.mod

prog=$(basename "$0")

usage() {
	cat <<EOF
Usage: $prog [options] [-- job-server-args...]

Start Apache Beam's Spark 3 job server (the portable JobService that
--runner=spark submits to), matching railyard's Beam Go SDK version.
The server runs in the foreground; stop it with Ctrl-C.
Spark runs railyard's batch pipelines only.

With Docker available it runs the apache/beam_spark3_job_server image with
host networking; otherwise it runs the job-server jar with Java 11+,
downloading it from Maven Central into a cache directory the first time
(or use --jar to give a local copy).

Options:
  --spark-master-url M  Spark master: local[N] runs Spark inside the job server,
                        spark://host:7077 is a standalone cluster
                        (default: \$SPARK_MASTER_URL or local[4])
  --job-port N          job service port (default: 8099)
  --artifact-port N     artifact staging port (default: 8098)
  --expansion-port N    expansion service port (default: 8097)
  --beam-version V      Beam version (default: \$BEAM_VERSION or $DEFAULT_BEAM_VERSION)
  --mode M              auto, docker or java (default: auto = docker if the Docker
                        engine answers, else java)
  --jar PATH            job-server jar to run (implies --mode=java)
  --cache-dir DIR       where downloaded jars are kept
                        (default: \${XDG_CACHE_HOME:-~/.cache}/railyard/job-servers)
  --maven-repo URL      Maven repository (default: \$MAVEN_REPO or
                        https://repo.maven.apache.org/maven2)
  --java PATH           java binary (default: \$JAVA_HOME/bin/java or java on PATH)
  --name NAME           Docker container name (default: railyard-spark-job-server)
  --dry-run             print what would run (and be downloaded), run nothing
  -h, --help            show this help

Arguments after -- go to the job server unchanged.

Then run a batch pipeline against it, for example:
  go run ./pipelines/<job> --runner=spark --endpoint=localhost:8099 --environment_type=LOOPBACK
or, with the defaults above, simply --profile=spark.

LOOPBACK runs the Go SDK workers inside the pipeline process, so the job
server (and, with local[N], Spark) must run on the same machine. For a
remote Spark cluster use --environment_type=DOCKER or PROCESS.
Host networking (used for Docker) needs Linux, or Docker Desktop 4.34+ with
host networking enabled.
EOF
}

die() {
	echo "$prog: $*" >&2
	exit 2
}

need_value() {
	[[ $# -ge 2 && -n $2 ]] || die "option $1 needs a value (see --help)"
}

check_port() {
	if ! [[ $2 =~ ^[0-9]+$ ]] || ((10#$2 < 1 || 10#$2 > 65535)); then
		die "$1 must be a port number (1-65535), got '$2'"
	fi
}

beam_version=${BEAM_VERSION:-$DEFAULT_BEAM_VERSION}
spark_master=${SPARK_MASTER_URL:-local[4]}
job_port=8099
artifact_port=8098
expansion_port=8097
mode=auto
jar=""
cache_dir="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/railyard/job-servers"
maven_repo=${MAVEN_REPO:-https://repo.maven.apache.org/maven2}
java_bin=""
container_name=railyard-spark-job-server
dry_run=false
extra_args=()

while [[ $# -gt 0 ]]; do
	opt=$1
	if [[ $opt == --*=* ]]; then
		set -- "${opt%%=*}" "${opt#*=}" "${@:2}"
		opt=$1
	fi
	case $opt in
	-h | --help)
		usage
		exit 0
		;;
	--spark-master-url) need_value "$@"; spark_master=$2; shift 2 ;;
	--job-port) need_value "$@"; job_port=$2; shift 2 ;;
	--artifact-port) need_value "$@"; artifact_port=$2; shift 2 ;;
	--expansion-port) need_value "$@"; expansion_port=$2; shift 2 ;;
	--beam-version) need_value "$@"; beam_version=$2; shift 2 ;;
	--mode) need_value "$@"; mode=$2; shift 2 ;;
	--jar) need_value "$@"; jar=$2; mode=java; shift 2 ;;
	--cache-dir) need_value "$@"; cache_dir=$2; shift 2 ;;
	--maven-repo) need_value "$@"; maven_repo=${2%/}; shift 2 ;;
	--java) need_value "$@"; java_bin=$2; shift 2 ;;
	--name) need_value "$@"; container_name=$2; shift 2 ;;
	--dry-run) dry_run=true; shift ;;
	--)
		shift
		extra_args=("$@")
		break
		;;
	*) die "unknown option '$opt' (see --help)" ;;
	esac
done

check_port --job-port "$job_port"
check_port --artifact-port "$artifact_port"
check_port --expansion-port "$expansion_port"
[[ $job_port != "$artifact_port" && $job_port != "$expansion_port" && $artifact_port != "$expansion_port" ]] ||
	die "--job-port, --artifact-port and --expansion-port must differ"
[[ $beam_version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "--beam-version must look like 2.77.0, got '$beam_version'"

image="apache/beam_spark3_job_server:${beam_version}"
artifact="beam-runners-spark-3-job-server"
server_args=(
	--spark-master-url="$spark_master"
	--job-port="$job_port"
	--artifact-port="$artifact_port"
	--expansion-port="$expansion_port"
	${extra_args[@]+"${extra_args[@]}"}
)

# shellcheck source-path=SCRIPTDIR source=lib/job-server.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/job-server.sh"
resolve_mode

print_usage_line() {
	cat <<EOF
Beam $beam_version Spark 3 job server, Spark master $spark_master, via $mode.
Job service on localhost:$job_port (artifacts :$artifact_port, expansion :$expansion_port).
Run batch pipelines with:
  go run ./pipelines/<job> --runner=spark --endpoint=localhost:$job_port --environment_type=LOOPBACK
EOF
	case $spark_master in
	local | local\[*\]) ;;
	*)
		echo "  (Spark at $spark_master runs elsewhere: if its executors cannot reach this machine's localhost, use --environment_type=DOCKER or PROCESS)"
		;;
	esac
}

launch_job_server
