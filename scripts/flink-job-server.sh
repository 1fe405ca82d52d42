#!/usr/bin/env bash
# Start Apache Beam's Flink job server for railyard pipelines (--runner=flink).
# Run with --help for usage.
set -euo pipefail

readonly SDK_BEAM_VERSION="2.77.0"    # github.com/apache/beam/sdks/v2 in go.mod: the Docker image tag
readonly MAVEN_BEAM_VERSION="2.62.0"  # newest Beam whose Flink runner and job service Maven serves here (see the pom)
readonly SUPPORTED_FLINK_VERSIONS="1.19 1.20 2.0 2.1 2.2" # Beam 2.77's published Flink job-server images
readonly MAVEN_FLINK_VERSIONS="1.19"  # Flink runners of Beam 2.62.0 served here
readonly DEFAULT_FLINK_VERSION="1.19"

prog=$(basename "$0")
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
	cat <<EOF
Usage: $prog [options] [-- job-server-args...]

Start Apache Beam's Flink job server (the portable JobService that
--runner=flink submits to) with an embedded Flink cluster by default.
The server runs in the foreground; stop it with Ctrl-C.

With Docker available it runs the apache/beam_flink<FLINK>_job_server image
(Beam $SDK_BEAM_VERSION, the Go SDK's version) with host networking. Otherwise it
runs Beam's FlinkJobServerDriver with Java 11+ from a classpath that Maven
resolves once from runners/jobserver/flink/pom.xml (Beam $MAVEN_BEAM_VERSION by
default; the pom says why) into ~/.m2, honouring your Maven settings; or it
runs a shaded job-server jar you give with --jar.

Options:
  --flink-version V   Flink version (default: \$FLINK_VERSION or $DEFAULT_FLINK_VERSION); with
                      Docker one of: $SUPPORTED_FLINK_VERSIONS; with Maven: $MAVEN_FLINK_VERSIONS
  --flink-master M    Flink master: [local] runs an embedded Flink mini cluster,
                      [auto] lets Beam choose, host:port is a JobManager's REST
                      address (default: \$FLINK_MASTER or [local])
  --flink-conf-dir D  Flink configuration directory (default: railyard's
                      runners/jobserver/flink/conf: checkpoints every 2 s, which
                      bundle finalization and Pub/Sub acks need; parallelism 2)
  --job-host H        address the job and artifact services listen on
                      (default: localhost)
  --job-port N        job service port (default: 8099)
  --artifact-port N   artifact staging port (default: 8098; 0 = any free port)
  --expansion-port N  expansion service port (default: 8097; 0 = any free port)
  --beam-version V    Beam version (default: \$BEAM_VERSION, else $SDK_BEAM_VERSION
                      with Docker and $MAVEN_BEAM_VERSION with Maven)
  --mode M            auto, docker or java (default: auto = docker if the Docker
                      engine answers, else java)
  --jar PATH          shaded job-server jar to run (implies --mode=java)
  --fetch-only        resolve the jars with Maven, print the classpath file, exit
  --cache-dir DIR     where the resolved classpath is kept (default:
                      \${RAILYARD_CACHE_DIR:-~/.cache/railyard}/job-servers)
  --java PATH         java binary (default: \$JAVA_HOME/bin/java or java on PATH)
  --name NAME         Docker container name (default: railyard-flink-job-server)
  --dry-run           print what would run (and be resolved), run nothing
  -h, --help          show this help

Environment: JOB_SERVER_JAVA_OPTS adds JVM options (e.g. -Xmx2g, or
-Dorg.slf4j.simpleLogger.log.org.apache.flink=info for Flink's own logs).

Arguments after -- go to the job server unchanged.

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

# check_port NAME VALUE [allow-zero]
check_port() {
	local min=1
	[[ ${3:-} == allow-zero ]] && min=0
	if ! [[ $2 =~ ^[0-9]+$ ]] || ((10#$2 < min || 10#$2 > 65535)); then
		die "$1 must be a port number ($min-65535), got '$2'"
	fi
}

beam_version=${BEAM_VERSION:-}
flink_version=${FLINK_VERSION:-$DEFAULT_FLINK_VERSION}
flink_master=${FLINK_MASTER:-[local]}
flink_conf_dir=$script_dir/../runners/jobserver/flink/conf
job_host=localhost
job_port=8099
artifact_port=8098
expansion_port=8097
mode=auto
jar=""
cache_dir="${RAILYARD_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/railyard}/job-servers"
java_bin=""
container_name=railyard-flink-job-server
dry_run=false
fetch_only=false
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
	--flink-conf-dir) need_value "$@"; flink_conf_dir=$2; shift 2 ;;
	--job-host) need_value "$@"; job_host=$2; shift 2 ;;
	--job-port) need_value "$@"; job_port=$2; shift 2 ;;
	--artifact-port) need_value "$@"; artifact_port=$2; shift 2 ;;
	--expansion-port) need_value "$@"; expansion_port=$2; shift 2 ;;
	--beam-version) need_value "$@"; beam_version=$2; shift 2 ;;
	--mode) need_value "$@"; mode=$2; shift 2 ;;
	--jar) need_value "$@"; jar=$2; mode=java; shift 2 ;;
	--fetch-only) fetch_only=true; shift ;;
	--cache-dir) need_value "$@"; cache_dir=$2; shift 2 ;;
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
check_port --artifact-port "$artifact_port" allow-zero
check_port --expansion-port "$expansion_port" allow-zero
[[ $job_port != "$artifact_port" && ($job_port != "$expansion_port") && ($artifact_port != "$expansion_port" || $artifact_port == 0) ]] ||
	die "--job-port, --artifact-port and --expansion-port must differ"
[[ -z $beam_version || $beam_version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "--beam-version must look like 2.77.0, got '$beam_version'"
[[ -f $flink_conf_dir/flink-conf.yaml || -f $flink_conf_dir/config.yaml ]] ||
	die "--flink-conf-dir $flink_conf_dir holds neither flink-conf.yaml nor config.yaml"
flink_conf_dir=$(cd "$flink_conf_dir" && pwd)

main_class=org.apache.beam.runners.flink.FlinkJobServerDriver
pom=$(cd "$script_dir/../runners/jobserver/flink" && pwd)/pom.xml
# Quiet Flink's own INFO chatter; Beam's job-server lines stay.
java_opts=(
	-Dorg.slf4j.simpleLogger.log.org.apache.flink=warn
	-Dorg.slf4j.simpleLogger.log.org.apache.beam.runners.fnexecution=warn
	-Dorg.slf4j.simpleLogger.showDateTime=true
	--add-opens=java.base/java.util=ALL-UNNAMED
	--add-opens=java.base/java.lang=ALL-UNNAMED
)

# shellcheck source-path=SCRIPTDIR source=lib/job-server.sh
source "$script_dir/lib/job-server.sh"
resolve_mode

if [[ $mode == docker ]]; then
	beam_version=${beam_version:-$SDK_BEAM_VERSION}
else
	beam_version=${beam_version:-$MAVEN_BEAM_VERSION}
	if [[ -z $jar && $beam_version == "$MAVEN_BEAM_VERSION" ]]; then
		case " $MAVEN_FLINK_VERSIONS " in
		*" $flink_version "*) ;;
		*) die "Beam $MAVEN_BEAM_VERSION's Flink $flink_version runner is not served by Maven here; use --flink-version $MAVEN_FLINK_VERSIONS, --beam-version, or --jar" ;;
		esac
	fi
fi
image="apache/beam_flink${flink_version}_job_server:${beam_version}"
conf_arg=$flink_conf_dir
docker_opts=()
if [[ $mode == docker ]]; then
	# The container sees the configuration through a read-only mount.
	conf_arg=/opt/railyard/flink-conf
	docker_opts=(-v "$flink_conf_dir:$conf_arg:ro")
fi
server_args=(
	--flink-master="$flink_master"
	--flink-conf-dir="$conf_arg"
	--job-host="$job_host"
	--job-port="$job_port"
	--artifact-port="$artifact_port"
	--expansion-port="$expansion_port"
	${extra_args[@]+"${extra_args[@]}"}
)
maven_props=(-Dbeam.version="$beam_version" -Dflink.version="$flink_version")

print_usage_line() {
	cat <<EOF
Beam $beam_version Flink $flink_version job server, Flink master $flink_master, via $mode.
Job service on $job_host:$job_port (artifacts :$artifact_port, expansion :$expansion_port).
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
