# shellcheck shell=bash disable=SC2154 # the globals below are set by the sourcing script
# Shared tail of flink-job-server.sh and spark-job-server.sh: start the job
# server with Docker, or with Java and the release jar (downloaded once and
# checked against its sha1), choosing Docker or Java first (resolve_mode).
# Sourced after the caller has set: dry_run, mode,
# container_name, image, server_args, jar, java_bin, cache_dir, artifact,
# beam_version, maven_repo, and defined die and print_usage_line.

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
resolve_mode() {
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
			die "neither a Docker engine nor Java was found: install Docker, or Java 11+ (then this script downloads $artifact-$beam_version.jar), or pass --jar"
		fi
		;;
	docker) ;;
	java)
		resolve_java || $dry_run || die "java not found: install Java 11+ or pass --java PATH"
		[[ -n $java_bin ]] || java_bin=java
		;;
	*) die "--mode must be auto, docker or java, got '$mode'" ;;
	esac
}

launch_job_server() {
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
		run docker run --rm --name "$container_name" --network=host "$image" "${server_args[@]}"
	fi

	# Java: a given jar, or the release jar from the cache (downloaded once).
	if [[ -z $jar ]]; then
		jar="$cache_dir/$artifact-$beam_version.jar"
		url="$maven_repo/org/apache/beam/$artifact/$beam_version/$artifact-$beam_version.jar"
		if [[ ! -s $jar ]]; then
			if $dry_run; then
				echo "would download $url"
				echo "           to $jar"
			else
				mkdir -p "$cache_dir"
				tmp=$(mktemp "$jar.XXXXXX")
				trap 'rm -f "$tmp" "$tmp.sha1"' EXIT
				echo "downloading $url" >&2
				if command -v curl >/dev/null 2>&1; then
					curl -fL --retry 3 -o "$tmp" "$url" || die "download failed: $url"
					curl -fsSL --retry 3 -o "$tmp.sha1" "$url.sha1" || die "download failed: $url.sha1"
				elif command -v wget >/dev/null 2>&1; then
					wget -O "$tmp" "$url" || die "download failed: $url"
					wget -qO "$tmp.sha1" "$url.sha1" || die "download failed: $url.sha1"
				else
					die "need curl or wget to download $url (or pass --jar)"
				fi
				want_sha1=$(tr -d ' \n\r' <"$tmp.sha1" | cut -c1-40)
				if command -v sha1sum >/dev/null 2>&1; then
					got_sha1=$(sha1sum "$tmp" | cut -d' ' -f1)
				else
					got_sha1=$(shasum -a 1 "$tmp" | cut -d' ' -f1)
				fi
				[[ $got_sha1 == "$want_sha1" ]] || die "checksum mismatch for $url (got $got_sha1, want $want_sha1)"
				mv "$tmp" "$jar"
				rm -f "$tmp.sha1"
				trap - EXIT
			fi
		fi
	elif [[ ! -f $jar ]]; then
		die "--jar $jar: no such file"
	fi

	if ! $dry_run; then
		java_version=$("$java_bin" -version 2>&1 | sed -n 's/.*version "\([0-9][0-9]*\)\(\.[0-9][0-9]*\)*.*/\1/p' | head -n1)
		if [[ $java_version == 1 ]]; then
			die "Java 8 found ($java_bin); Beam $beam_version job servers need Java 11 or newer"
		elif [[ $java_version =~ ^[0-9]+$ ]] && ((java_version < 11)); then
			die "Java $java_version found ($java_bin); Beam $beam_version job servers need Java 11 or newer"
		fi
	fi
	print_usage_line
	run "$java_bin" -jar "$jar" "${server_args[@]}"
}
