#!/usr/bin/env bash
# Installs railyard's scheduler on Kubernetes: a ConfigMap with the schedule
# file and its SQL scripts, and one CronJob per job cron (spec.timeZone,
# concurrency Forbid), each running `railyard schedule run --once` in an image
# that holds the railyard binary, its source tree and Go. Applied with kubectl.
#
# Usage: scripts/schedule/install-kubernetes.sh --file F --lock gs://BUCKET/PREFIX
#            --bq_project P --image IMAGE [--namespace NS] [--binary PATH-IN-IMAGE]
#            [--source DIR-IN-IMAGE] [--name N] [--env K=V]... [--dry-run]
#   --dry-run   print the objects instead of applying them
#   Other flags go to `railyard schedule install --target kubernetes` (see its --help).
# Environment: RAILYARD=path runs that railyard to generate the objects;
# KUBECTL=command replaces kubectl.
usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

parse_args "$@"
# --binary here is the path inside the image, not a local railyard.
if [[ -n $binary ]]; then
	pass+=("--binary=$binary")
	binary=""
fi
gen_command
objects=$("$gen" schedule install --target kubernetes "${pass[@]}")
if [[ $dry_run == 1 ]]; then
	printf '%s\n' "$objects"
	exit 0
fi
printf '%s\n' "$objects" | ${KUBECTL:-kubectl} apply -f -
