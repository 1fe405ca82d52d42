#!/usr/bin/env bash
# Start Apache Beam's Spark job server for railyard batch pipelines (--runner=spark).
# Run with --help for usage.
set -euo pipefail

readonly SDK_BEAM_VERSION="2.77.0"    # github.com/apache/beam/sdks/v2 in go.mod: the Docker image tag
readonly MAVEN_BEAM_VERSION="2.62.0"  # newest Beam whose Spark runner and job service Maven serves here (see the pom)

prog=$(basename "$0")
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
	cat <<EOF
Usage: $prog [options] [-- job-server-args...]

Start Apache Beam's Spark 3 job server (the portable JobService that
--runner=spark submits to), with Spark in local mode by default.
The server runs in the foreground; stop it with Ctrl-C.
Spark runs railyard's batch pipelines only.

With Docker available it runs the apache/beam_spark3_job_server image (Beam
$SDK_BEAM_VERSION, the Go SDK's version) with host networking. Otherwise it runs
Beam's SparkJobServerDriver with Java 11+ from a classpath that Maven resolves
once from runners/jobserver/spark/pom.xml (Beam $MAVEN_BEAM_VERSION with Spark
3.5 by default; the pom says why) into ~/.m2, honouring your Maven settings;
or it runs a shaded job-server jar you give with --jar.

Options:
  --spark-master-url M  Spark master: local[N] runs Spark inside the job server,
                        spark://host:7077 is a standalone cluster
                        (default: \$SPARK_MASTER_URL or local[2])
  --job-host H          address the job and artifact services listen on
                        (default: localhost)
  --job-port N          job service port (default: 8099)
  --artifact-port N     artifact staging port (default: 8098; 0 = any free port)
  --expansion-port N    expansion service port (default: 8097; 0 = any free port)
  --beam-version V      Beam version (default: \$BEAM_VERSION, else $SDK_BEAM_VERSION
                        with Docker and $MAVEN_BEAM_VERSION with Maven)
  --mode M              auto, docker or java (default: auto = docker if the Docker
                        engine answers, else java)
  --jar PATH            shaded job-server jar to run (implies --mode=java)
  --fetch-only          resolve the jars with Maven, print the classpath file, exit
  --cache-dir DIR       where the resolved classpath is kept (default:
                        \${RAILYARD_CACHE_DIR:-~/.cache/railyard}/job-servers)
  --java PATH           java binary (default: \$JAVA_HOME/bin/java or java on PATH)
  --name NAME           Docker container name (default: railyard-spark-job-server)
  --dry-run             print what would run (and be resolved), run nothing
  -h, --help            show this help

Environment: JOB_SERVER_JAVA_OPTS adds JVM options (e.g. -Xmx2g, or
-Dorg.slf4j.simpleLogger.log.org.apache.flink=info for Flink's own logs).

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

# check_port NAME VALUE [allow-zero]
check_port() {
	local min=1
	[[ ${3:-} == allow-zero ]] && min=0
	if ! [[ $2 =~ ^[0-9]+$ ]] || ((10#$2 < min || 10#$2 > 65535)); then
		die "$1 must be a port number ($min-65535), got '$2'"
	fi
}

beam_version=${BEAM_VERSION:-}
spark_master=${SPARK_MASTER_URL:-local[2]}
job_host=localhost
job_port=8099
artifact_port=8098
expansion_port=8097
mode=auto
jar=""
cache_dir="${RAILYARD_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/railyard}/job-servers"
java_bin=""
container_name=railyard-spark-job-server
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
	--spark-master-url) need_value "$@"; spark_master=$2; shift 2 ;;
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

check_port --job-port "$job_port"
check_port --artifact-port "$artifact_port" allow-zero
check_port --expansion-port "$expansion_port" allow-zero
[[ $job_port != "$artifact_port" && ($job_port != "$expansion_port") && ($artifact_port != "$expansion_port" || $artifact_port == 0) ]] ||
	die "--job-port, --artifact-port and --expansion-port must differ"
[[ -z $beam_version || $beam_version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "--beam-version must look like 2.77.0, got '$beam_version'"

server_args=(
	--spark-master-url="$spark_master"
	--job-host="$job_host"
	--job-port="$job_port"
	--artifact-port="$artifact_port"
	--expansion-port="$expansion_port"
	${extra_args[@]+"${extra_args[@]}"}
)
main_class=org.apache.beam.runners.spark.SparkJobServerDriver
pom=$(cd "$script_dir/../runners/jobserver/spark" && pwd)/pom.xml
# Spark 3.5 on Java 17 needs these packages opened (as in Beam's Go tests);
# Spark's INFO logging is quieted to warnings by railyard's Log4j 2 file.
java_opts=(
	--add-opens=java.base/java.lang=ALL-UNNAMED
	--add-opens=java.base/java.lang.invoke=ALL-UNNAMED
	--add-opens=java.base/java.nio=ALL-UNNAMED
	--add-opens=java.base/sun.nio.ch=ALL-UNNAMED
	--add-opens=java.base/java.util=ALL-UNNAMED
	--add-opens=java.base/sun.util.calendar=ALL-UNNAMED
	-Dlog4j2.configurationFile="$(dirname "$pom")/log4j2.properties"
)
docker_opts=()

# shellcheck source-path=SCRIPTDIR source=lib/job-server.sh
source "$script_dir/lib/job-server.sh"
resolve_mode

if [[ $mode == docker ]]; then
	beam_version=${beam_version:-$SDK_BEAM_VERSION}
else
	beam_version=${beam_version:-$MAVEN_BEAM_VERSION}
fi
image="apache/beam_spark3_job_server:${beam_version}"
maven_props=(-Dbeam.version="$beam_version")

print_usage_line() {
	cat <<EOF
Beam $beam_version Spark 3 job server, Spark master $spark_master, via $mode.
Job service on $job_host:$job_port (artifacts :$artifact_port, expansion :$expansion_port).
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
