package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/railyard-dev/railyard/internal/schedule"
	"github.com/railyard-dev/railyard/internal/schedule/install"
)

func newScheduleInstallCommand() *cobra.Command {
	var (
		target, out, file string
		s                 install.Settings
	)
	cmd := &cobra.Command{
		Use:   "install --target cron|systemd|kubernetes --file F --lock URL [BigQuery flags] [--out PATH]",
		Short: "Generate a crontab block, a systemd service and timer, or Kubernetes CronJobs that run the scheduler",
		Long: `Generates, from the schedule file, what runs "railyard schedule run --once" at
the jobs' firings (in their time zones):

  cron        a crontab block (CRON_TZ and one line per distinct cron)
  systemd     NAME.service (oneshot) and NAME.timer (one OnCalendar= per cron)
  kubernetes  a ConfigMap with the schedule file and its SQL scripts, and one
              CronJob per distinct cron (spec.timeZone, concurrency Forbid)

Each trigger runs whatever is due then, for every job: the ledger decides what
runs and the partition locks keep overlapping triggers apart. The scripts in
scripts/schedule/ call this and put the result in place (crontab, systemctl,
kubectl).`,
		Args: cobra.NoArgs,
	}
	fl := cmd.Flags()
	fl.StringVar(&target, "target", "", "cron, systemd or kubernetes (required)")
	fl.StringVar(&file, "file", "", "schedule file (required)")
	fl.StringVar(&out, "out", "-", "where to write: - for standard output; for systemd a directory that receives NAME.service and NAME.timer")
	fl.StringVar(&s.Lock, "lock", os.Getenv("RAILYARD_LOCK"), "--lock URL of the installed scheduler: gs://BUCKET/PREFIX, or file:///DIR on one machine (env RAILYARD_LOCK) (required)")
	fl.StringVar(&s.Binary, "binary", "", "railyard binary the trigger runs (default: this executable; for kubernetes /usr/local/bin/railyard in the image)")
	fl.StringVar(&s.Source, "source", "", "railyard source tree, the working directory where beam jobs are built (default: found from the schedule file; for kubernetes /src/railyard in the image)")
	fl.StringVar(&s.Name, "name", "railyard-schedule", "name of the units, crontab block or Kubernetes objects")
	fl.StringVar(&s.Log, "log", "/var/log/railyard-schedule.log", "cron: file the scheduler's output is appended to")
	fl.StringVar(&s.User, "user", "", "systemd: user the service runs as (default root)")
	fl.StringArrayVar(&s.Env, "env", nil, "KEY=VALUE for the scheduler's environment (repeatable), e.g. GOOGLE_APPLICATION_CREDENTIALS=/etc/railyard/key.json")
	fl.StringVar(&s.Image, "image", "", "kubernetes: container image with the railyard binary, its source tree and Go (required for kubernetes)")
	fl.StringVar(&s.Namespace, "namespace", "", "kubernetes: namespace of the objects (default: kubectl's)")
	bq := bigQueryFlags(cmd)
	_ = cmd.MarkFlagRequired("target")
	_ = cmd.MarkFlagRequired("file")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		abs, err := filepath.Abs(file)
		if err != nil {
			return err
		}
		f, err := schedule.Load(abs, schedule.Options{})
		if err != nil {
			return err
		}
		s.File, s.BQ = abs, *bq
		if target != "kubernetes" {
			if s.Source == "" {
				if s.Source = findSource(filepath.Dir(abs)); s.Source == "" {
					return fmt.Errorf("--source: no railyard source tree above %s; give its directory", abs)
				}
			}
			if s.Source, err = filepath.Abs(s.Source); err != nil {
				return err
			}
			if s.Binary == "" {
				if s.Binary, err = os.Executable(); err != nil {
					return err
				}
				if strings.Contains(s.Binary, "go-build") {
					return fmt.Errorf("--binary: this railyard runs from go run's temporary build (%s), which will be gone; build one (go build -o /usr/local/bin/railyard ./cmd/railyard) and pass --binary", s.Binary)
				}
			}
		} else {
			if s.Binary == "" {
				s.Binary = "/usr/local/bin/railyard"
			}
			if s.Source == "" {
				s.Source = "/src/railyard"
			}
		}
		switch target {
		case "cron":
			text, err := install.Crontab(f, s)
			if err != nil {
				return err
			}
			return writeOutput(cmd, out, text)
		case "kubernetes":
			text, err := install.Kubernetes(f, s)
			if err != nil {
				return err
			}
			return writeOutput(cmd, out, text)
		case "systemd":
			units, err := install.Systemd(f, s)
			if err != nil {
				return err
			}
			names := make([]string, 0, len(units))
			for n := range units {
				names = append(names, n)
			}
			sort.Strings(names)
			if out == "-" || out == "" {
				for _, n := range names {
					fmt.Fprintf(cmd.OutOrStdout(), "### %s\n%s\n", n, units[n])
				}
				return nil
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			for _, n := range names {
				if err := writeOutput(cmd, filepath.Join(out, n), units[n]); err != nil {
					return err
				}
			}
			return nil
		}
		return fmt.Errorf("--target %q is not cron, systemd or kubernetes", target)
	}
	return cmd
}
