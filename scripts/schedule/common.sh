# shellcheck shell=bash disable=SC2034 # dry_run, gen and the rest are used by the sourcing script
# Shared part of install-cron.sh, install-systemd.sh and install-kubernetes.sh:
# argument handling and the railyard command that generates the files.
# Sourced by them; sets: dry_run, binary, name, pass (the flags for
# `railyard schedule install`), repo, gen (the railyard command to run).

set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

dry_run=0
binary=""
name=railyard-schedule
pass=()
consumed=0

# parse_args handles the flags every script shares and keeps the rest for
# `railyard schedule install`; script-specific ones are handled by the
# caller's extra_arg function (return 0 when it consumed the flag).
parse_args() {
	while [[ $# -gt 0 ]]; do
		case $1 in
		-h | --help) usage; exit 0 ;;
		--dry-run | --dry_run) dry_run=1 ;;
		--binary) binary=${2:?--binary needs a path}; shift ;;
		--binary=*) binary=${1#*=} ;;
		--name) name=${2:?--name needs a value}; pass+=("--name=$name"); shift ;;
		--name=*) name=${1#*=}; pass+=("$1") ;;
		*)
			if declare -F extra_arg >/dev/null && extra_arg "$@"; then
				shift "$consumed"
				continue
			fi
			pass+=("$1")
			;;
		esac
		shift
	done
}

# build_railyard builds ./cmd/railyard into $1 with go build.
build_railyard() {
	command -v go >/dev/null || die "go is not on PATH: needed to build railyard (or pass --binary / RAILYARD=)"
	echo "building railyard into $1 (go build ./cmd/railyard; the first build takes a few minutes)" >&2
	mkdir -p "$(dirname "$1")"
	(cd "$repo" && go build -o "$1" ./cmd/railyard)
}

# gen_command sets gen to the railyard that generates the files: $RAILYARD,
# else the installed --binary, else a fresh build in a temporary directory.
gen_command() {
	if [[ -n ${RAILYARD:-} ]]; then
		gen=$RAILYARD
	elif [[ -n $binary && -x $binary ]]; then
		gen=$binary
	else
		tmpdir=$(mktemp -d)
		trap 'rm -rf "$tmpdir"' EXIT
		build_railyard "$tmpdir/railyard"
		gen=$tmpdir/railyard
	fi
}
