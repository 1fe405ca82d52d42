#!/usr/bin/env bash
# Installs railyard's scheduler as a crontab block generated from a schedule
# file: per job cron (in the job's time zone, through CRON_TZ) a line that runs
# `railyard schedule run --once`, which runs whatever is due (catch-up
# included). A block installed before under the same --name is replaced; the
# rest of the crontab is kept.
#
# Usage: scripts/schedule/install-cron.sh --file F --lock URL --bq_project P
#            [--bq_endpoint URL] [--dataset_prefix X] [--binary PATH] [--name N]
#            [--log FILE] [--env K=V]... [--dry-run] [--uninstall]
#   --binary PATH  railyard binary cron runs; built from this tree with go build
#                  when it does not exist (default /usr/local/bin/railyard)
#   --dry-run      print the resulting crontab instead of installing it
#   --uninstall    remove the block
#   Other flags go to `railyard schedule install --target cron` (see its --help).
# Environment: RAILYARD=path runs that railyard to generate the block;
# CRONTAB=command replaces `crontab` (tests).
usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; }
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

uninstall=0
extra_arg() {
	case $1 in
	--uninstall) uninstall=1; consumed=1; return 0 ;;
	esac
	return 1
}
parse_args "$@"
crontab_cmd=${CRONTAB:-crontab}
binary=${binary:-/usr/local/bin/railyard}

current=$($crontab_cmd -l 2>/dev/null || true)
# Drop an earlier block of the same name.
kept=$(printf '%s\n' "$current" | awk -v b="# BEGIN $name " -v e="# END $name" '
	index($0, b) == 1 { skip = 1; next }
	skip && $0 == e { skip = 0; next }
	!skip' | sed '/^$/d')

if [[ $uninstall == 1 ]]; then
	block=""
else
	if [[ ! -x $binary && $dry_run == 0 ]]; then
		build_railyard "$binary"
	fi
	gen_command
	block=$("$gen" schedule install --target cron --binary "$binary" "${pass[@]}")
fi
new=$(printf '%s\n%s\n' "$kept" "$block" | sed '/^$/d')

if [[ $dry_run == 1 ]]; then
	printf '%s\n' "$new"
	exit 0
fi
printf '%s\n' "$new" | $crontab_cmd -
if [[ $uninstall == 1 ]]; then
	echo "removed the crontab block $name"
else
	echo "installed the crontab block $name ($(grep -c '^CRON_TZ=' <<<"$block") trigger(s)); see: crontab -l"
fi
