# shellcheck shell=bash disable=SC2154 # the globals below are set by the sourcing script
# Shared tail of flink-job-server.sh and spark-job-server.sh: start the job
# server with Docker, or with Java from a classpath that Maven resolves from
# railyard's pom (runners/jobserver/<runner>/pom.xml) into the local Maven
# repository once, choosing Docker or Java first (resolve_mode).
# Sourced after the caller has set: dry_run, fetch_only, mode, container_name,
# image, docker_opts (may be unset), server_args, jar, java_bin, java_opts, main_class, cache_dir, pom,
# maven_props, beam_version, and defined die and print_usage_line.

docker_ready() {
	command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1
}

resolve_java() {
	if [[ -n $java_bin ]]; then
		:
	elif [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then
		java_bin=$JAVA_HOME/bin/java
	elif command -v java >/dev/null 2>&1; then
		java_bin=java
	else
		return 1
	fi
}

# resolve_mode settles --mode=auto to docker or java and checks the choice.
# Fetching (--fetch-only) is always the Java path.
resolve_mode() {
	if $fetch_only; then
		mode=java
	fi
	case $mode in
	auto)
		if docker_ready; then
			mode=docker
		elif resolve_java; then
			mode=java
		elif $dry_run; then
			mode=java
			java_bin=java
		else
			die "neither a Docker engine nor Java was found: install Docker, or Java 11+ and Maven (apt-get install default-jdk-headless maven), or pass --jar"
		fi
		;;
	docker) ;;
	java)
		resolve_java || $dry_run || $fetch_only || die "java not found: install Java 11+ (apt-get install default-jdk-headless) or pass --java PATH"
		[[ -n $java_bin ]] || java_bin=java
		;;
	*) die "--mode must be auto, docker or java, got '$mode'" ;;
	esac
}

# classpath_file names the cache file holding the resolved classpath: one per
# pom content and Maven properties, so editing the pom re-resolves.
classpath_file() {
	local key
	key=$({
		cat "$pom"
		printf '%s\n' "${maven_props[@]}"
	} | sha256sum | cut -c1-12)
	echo "$cache_dir/$(basename "$(dirname "$pom")")-beam-$beam_version-$key.classpath"
}

# resolve_classpath makes sure the classpath file exists, running Maven the
# first time (it downloads the runner and its dependencies into ~/.m2,
# honouring the machine's Maven settings). A lock keeps concurrent starts from
# resolving twice.
resolve_classpath() {
	cp_file=$(classpath_file)
	local mvn_cmd=(mvn -B -Dstyle.color=never -f "$pom" dependency:build-classpath "${maven_props[@]}" -Dmdep.outputFile="$cp_file.tmp")
	if $dry_run; then
		[[ -s $cp_file ]] || {
			printf 'would resolve with:'
			printf ' %q' "${mvn_cmd[@]}"
			printf '\n'
		}
		return
	fi
	[[ -s $cp_file ]] && return
	command -v mvn >/dev/null 2>&1 || die "Maven (mvn) not found: it fetches the job server's jars; install it (apt-get install maven) or pass --jar"
	mkdir -p "$cache_dir"
	exec 9>"$cache_dir/.resolve.lock"
	if command -v flock >/dev/null 2>&1; then
		flock 9
	fi
	if [[ ! -s $cp_file ]]; then
		echo "resolving the job server's jars with Maven into ~/.m2 once (about 1-3 min and 300-400 MB the first time; progress below)" >&2
		local start=$SECONDS
		if ! "${mvn_cmd[@]}" >&2; then
			rm -f "$cp_file.tmp"
			die "Maven could not resolve $pom (${maven_props[*]}); see its output above"
		fi
		mv "$cp_file.tmp" "$cp_file"
		echo "resolved in $((SECONDS - start))s: $cp_file" >&2
	fi
	exec 9>&-
}

check_java_version() {
	local java_version
	java_version=$("$java_bin" -version 2>&1 | sed -n 's/.*version "\([0-9][0-9]*\)\(\.[0-9][0-9]*\)*.*/\1/p' | head -n1)
	if [[ $java_version == 1 ]]; then
		die "Java 8 found ($java_bin); Beam job servers need Java 11 or newer"
	elif [[ $java_version =~ ^[0-9]+$ ]] && ((java_version < 11)); then
		die "Java $java_version found ($java_bin); Beam job servers need Java 11 or newer"
	fi
}

launch_job_server() {
	# JOB_SERVER_JAVA_OPTS: extra JVM options, split on spaces.
	local extra_java_opts=()
	read -r -a extra_java_opts <<<"${JOB_SERVER_JAVA_OPTS:-}"
	java_opts+=(${extra_java_opts[@]+"${extra_java_opts[@]}"})
	run() {
		if $dry_run; then
			printf 'would run:'
			printf ' %q' "$@"
			printf '\n'
			exit 0
		fi
		exec "$@"
	}

	if [[ $mode == docker ]]; then
		if ! $dry_run && ! docker_ready; then
			die "the Docker engine does not answer (docker info failed); start it or use --mode=java"
		fi
		print_usage_line
		run docker run --rm --name "$container_name" --network=host ${docker_opts[@]+"${docker_opts[@]}"} "$image" "${server_args[@]}"
	fi

	if [[ -n $jar ]]; then
		[[ -f $jar ]] || die "--jar $jar: no such file"
		$dry_run || check_java_version
		print_usage_line
		run "$java_bin" "${java_opts[@]}" -jar "$jar" "${server_args[@]}"
	fi

	resolve_classpath
	if $fetch_only; then
		echo "$cp_file"
		exit 0
	fi
	$dry_run || check_java_version
	print_usage_line
	if $dry_run; then
		run "$java_bin" "${java_opts[@]}" -cp "<the classpath in $(classpath_file)>" "$main_class" "${server_args[@]}"
	fi
	run "$java_bin" "${java_opts[@]}" -cp "$(cat "$cp_file")" "$main_class" "${server_args[@]}"
}
