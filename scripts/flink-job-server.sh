#!/usr/bin/env bash
# Start Apache Beam's Flink job server for railyard pipelines (--runner=flink).
# Run with --help for usage.
set -euo pipefail

readonly DEFAULT_BEAM_VERSION="2.77.0"  # keep in step with github.com/apache/beam/sdks/v2 in go.mod
readonly SUPPORTED_FLINK_VERSIONS="1.19 1.20 2.0 2.1 2.2"  # Beam 2.77's published Flink job servers
readonly DEFAULT_FLINK_VERSION="2.2"

prog=$(basename "$0")

usage() {
	cat <<EOF
Usage: $prog [options] [-- job-server-args...]

Start Apache Beam's Flink job server (the portable JobService that
--runner=flink submits to), matching railyard's Beam Go SDK version.
The server runs in the foreground; stop it with Ctrl-C.

With Docker available it runs the apache/beam_flink<FLINK>_job_server image
with host networking; otherwise it runs the job-server jar with Java 11+,
downloading it from Maven Central into a cache directory the first time
(or use --jar to give a local copy).

Options:
  --flink-version V   Flink version of the job server: ${SUPPORTED_FLINK_VERSIONS// /, }
                      (default: \$FLINK_VERSION or $DEFAULT_FLINK_VERSION)
  --flink-master M    Flink master: [local] runs an embedded Flink mini cluster,
                      [auto] lets Beam choose, host:port is a JobManager's REST
                      address (default: \$FLINK_MASTER or [local])
  --job-port N        job service port (default: 8099)
  --artifact-port N   artifact staging port (default: 8098)
  --expansion-port N  expansion service port (default: 8097)
  --beam-version V    Beam version (default: \$BEAM_VERSION or $DEFAULT_BEAM_VERSION)
  --mode M            auto, docker or java (default: auto = docker if the Docker
                      engine answers, else java)
  --jar PATH          job-server jar to run (implies --mode=java)
  --cache-dir DIR     where downloaded jars are kept
                      (default: \${XDG_CACHE_HOME:-~/.cache}/railyard/job-servers)
  --maven-repo URL    Maven repository (default: \$MAVEN_REPO or
                      https://repo.maven.apache.org/maven2)
  --java PATH         java binary (default: \$JAVA_HOME/bin/java or java on PATH)
  --name NAME         Docker container name (default: railyard-flink-job-server)
  --dry-run           print what would run (and be downloaded), run nothing
  -h, --help          show this help

Arguments after -- go to the job server unchanged (e.g. --flink-conf-dir DIR).

Then run a pipeline against it, for example:
  go run ./pipelines/<job> --runner=flink --endpoint=localhost:8099 --environment_type=LOOPBACK
or, with the defaults above, simply --profile=flink.

LOOPBACK runs the Go SDK workers inside the pipeline process, so the job
server (and, with [local], its Flink) must run on the same machine. For a
remote Flink cluster use --environment_type=DOCKER or PROCESS.
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
flink_version=${FLINK_VERSION:-$DEFAULT_FLINK_VERSION}
flink_master=${FLINK_MASTER:-[local]}
job_port=8099
artifact_port=8098
expansion_port=8097
mode=auto
jar=""
cache_dir="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/railyard/job-servers"
maven_repo=${MAVEN_REPO:-https://repo.maven.apache.org/maven2}
java_bin=""
container_name=railyard-flink-job-server
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
	--flink-version) need_value "$@"; flink_version=$2; shift 2 ;;
	--flink-master) need_value "$@"; flink_master=$2; shift 2 ;;
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

case " $SUPPORTED_FLINK_VERSIONS " in
*" $flink_version "*) ;;
*) die "Flink $flink_version has no Beam job server; choose one of: $SUPPORTED_FLINK_VERSIONS" ;;
esac
check_port --job-port "$job_port"
check_port --artifact-port "$artifact_port"
check_port --expansion-port "$expansion_port"
[[ $job_port != "$artifact_port" && $job_port != "$expansion_port" && $artifact_port != "$expansion_port" ]] ||
	die "--job-port, --artifact-port and --expansion-port must differ"
[[ $beam_version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "--beam-version must look like 2.77.0, got '$beam_version'"

image="apache/beam_flink${flink_version}_job_server:${beam_version}"
artifact="beam-runners-flink-${flink_version}-job-server"
server_args=(
	--flink-master="$flink_master"
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
Beam $beam_version Flink $flink_version job server, Flink master $flink_master, via $mode.
Job service on localhost:$job_port (artifacts :$artifact_port, expansion :$expansion_port).
Run pipelines with:
  go run ./pipelines/<job> --runner=flink --endpoint=localhost:$job_port --environment_type=LOOPBACK
EOF
	case $flink_master in
	"[local]" | "[auto]" | localhost:* | 127.0.0.1:* | http://localhost:* | http://127.0.0.1:*) ;;
	*)
		echo "  (Flink at $flink_master runs elsewhere: if its task managers cannot reach this machine's localhost, use --environment_type=DOCKER or PROCESS)"
		;;
	esac
}

launch_job_server
