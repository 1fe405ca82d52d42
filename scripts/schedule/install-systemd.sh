#!/usr/bin/env bash
# Installs railyard's scheduler as a systemd service and timer generated from a
# schedule file: NAME.service runs `railyard schedule run --once` (whatever is
# due, catch-up included) and NAME.timer starts it at every job's firings (one
# OnCalendar= per cron, in the job's time zone). The units are checked with
# `systemd-analyze verify` before they are installed.
#
# Usage: scripts/schedule/install-systemd.sh --file F --lock URL --bq_project P
#            [--bq_endpoint URL] [--dataset_prefix X] [--binary PATH] [--name N]
#            [--user U] [--env K=V]... [--unit-dir DIR] [--dry-run]
#   --binary PATH    railyard binary the service runs; built from this tree with
#                    go build when it does not exist (default /usr/local/bin/railyard)
#   --unit-dir DIR   where the units go (default /etc/systemd/system)
#   --dry-run        generate and verify the units and print them; install nothing
#   Other flags go to `railyard schedule install --target systemd` (see its --help).
# Environment: RAILYARD=path runs that railyard to generate the units.
usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

unit_dir=/etc/systemd/system
extra_arg() {
	case $1 in
	--unit-dir) unit_dir=${2:?--unit-dir needs a directory}; consumed=2; return 0 ;;
	--unit-dir=*) unit_dir=${1#*=}; consumed=1; return 0 ;;
	esac
	return 1
}
parse_args "$@"
binary=${binary:-/usr/local/bin/railyard}
if [[ ! -x $binary ]]; then
	if [[ $dry_run == 1 ]]; then
		die "--dry-run: $binary does not exist, and systemd-analyze verify needs the binary the service runs; build it first or pass --binary"
	fi
	build_railyard "$binary"
fi
gen_command

out=$(mktemp -d)
trap 'rm -rf "$out" ${tmpdir:+"$tmpdir"}' EXIT
"$gen" schedule install --target systemd --binary "$binary" --out "$out" "${pass[@]}" 2>/dev/null
command -v systemd-analyze >/dev/null || die "systemd-analyze is missing (apt-get install systemd)"
systemd-analyze verify --man=no "$out/$name.service" "$out/$name.timer"
echo "systemd-analyze verify: $name.service and $name.timer are valid" >&2

if [[ $dry_run == 1 ]]; then
	for f in "$out/$name.service" "$out/$name.timer"; do
		echo "### $(basename "$f")"
		cat "$f"
	done
	exit 0
fi
install -m 0644 "$out/$name.service" "$out/$name.timer" "$unit_dir/"
systemctl daemon-reload
systemctl enable --now "$name.timer"
echo "installed $unit_dir/$name.service and $name.timer; next firings: systemctl list-timers $name.timer"
