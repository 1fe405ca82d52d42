// Package install generates what installs `railyard schedule run --once`
// from a schedule file: a crontab block, a systemd service and timer, and
// Kubernetes CronJobs with a ConfigMap holding the schedule file and its
// SQL scripts. scripts/schedule/ puts them in place.
//
// Every generated trigger runs `railyard schedule run --once`, which runs
// whatever is due then for every job (catch-up included) and exits, so the
// triggers only decide how promptly a firing starts: the ledger decides
// what runs, and the partition locks keep overlapping triggers apart.
// There is one trigger per job cron (identical crons share one), in the
// job's time zone:
//
//   - crontab: one line per cron, after a CRON_TZ= line (cronie and other
//     crons that honour CRON_TZ; elsewhere cron reads the system zone);
//   - systemd: one OnCalendar= per cron, translated field by field from
//     the parsed expression (two when both day-of-month and day-of-week
//     are restricted, since cron ORs them and systemd ANDs), with the
//     zone appended;
//   - Kubernetes: one CronJob per cron with spec.timeZone, concurrency
//     Forbid, no pod retries (the scheduler retries), a deadline that
//     covers every job's attempts and backoffs.
package install
