package install

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestScripts runs scripts/schedule/ as an operator would, with a railyard
// built from this tree: crontab through a stand-in crontab command that
// keeps the table in a file, systemd with --dry-run (generate and verify;
// systemctl needs a booted systemd), Kubernetes through a stand-in kubectl
// that keeps what it was asked to apply.
func TestScripts(t *testing.T) {
	repo, _ := filepath.Abs("../../..")
	scripts := filepath.Join(repo, "scripts", "schedule")
	shellcheck := needTool(t, "shellcheck", "shellcheck")
	if out, err := exec.Command(shellcheck, "-x", "-P", scripts, filepath.Join(scripts, "install-cron.sh"), filepath.Join(scripts, "install-systemd.sh"),
		filepath.Join(scripts, "install-kubernetes.sh"), filepath.Join(scripts, "common.sh")).CombinedOutput(); err != nil {
		t.Fatalf("shellcheck: %v\n%s", err, out)
	}
	dir := t.TempDir()
	railyard := filepath.Join(dir, "railyard")
	build := exec.Command("go", "build", "-o", railyard, "./cmd/railyard")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/railyard: %v\n%s", err, out)
	}
	file := filepath.Join(repo, "schedules", "railyard.yaml")
	run := func(env []string, script string, args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(scripts, script), args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", script, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	common := []string{"--file", file, "--lock", "gs://railyard-locks/schedule", "--bq_project", "railyard-prod", "--binary", railyard}

	t.Run("cron", func(t *testing.T) {
		table := filepath.Join(dir, "crontab")
		if err := os.WriteFile(table, []byte("MAILTO=ops@example.com\n0 * * * * /usr/bin/true # someone else's\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		fake := filepath.Join(dir, "fake-crontab")
		if err := os.WriteFile(fake, []byte("#!/bin/sh\nif [ \"$1\" = -l ]; then cat "+table+"; else cat > "+table+"; fi\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		env := []string{"CRONTAB=" + fake}
		run(env, "install-cron.sh", common...)
		run(env, "install-cron.sh", common...) // again: replaces, does not add
		got, _ := os.ReadFile(table)
		text := string(got)
		t.Log("\n" + text)
		if strings.Count(text, "# BEGIN railyard-schedule") != 1 || strings.Count(text, "schedule run --once") != 2 ||
			!strings.Contains(text, "MAILTO=ops@example.com\n0 * * * * /usr/bin/true # someone else's\n") ||
			!strings.Contains(text, "15 2 * * * cd "+repo+" && "+railyard+" schedule run --once --file="+file) {
			t.Fatalf("crontab after two installs:\n%s", text)
		}
		run(env, "install-cron.sh", "--uninstall")
		got, _ = os.ReadFile(table)
		if string(got) != "MAILTO=ops@example.com\n0 * * * * /usr/bin/true # someone else's\n" {
			t.Fatalf("crontab after --uninstall:\n%s", got)
		}
	})

	t.Run("systemd", func(t *testing.T) {
		needTool(t, "systemd-analyze", "systemd")
		out := run(nil, "install-systemd.sh", append(common, "--dry-run", "--name", "railyard-nightly")...)
		for _, want := range []string{"systemd-analyze verify: railyard-nightly.service and railyard-nightly.timer are valid",
			"### railyard-nightly.service", "ExecStart=" + railyard + " schedule run --once --file=" + file,
			"### railyard-nightly.timer", "OnCalendar=*-*-* 02:15:00 UTC", "Unit=railyard-nightly.service"} {
			if !strings.Contains(out, want) {
				t.Errorf("install-systemd.sh --dry-run output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("kubernetes", func(t *testing.T) {
		applied := filepath.Join(dir, "applied.yaml")
		fake := filepath.Join(dir, "fake-kubectl")
		if err := os.WriteFile(fake, []byte("#!/bin/sh\n[ \"$1 $2 $3\" = 'apply -f -' ] || exit 3\ncat > "+applied+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		run([]string{"KUBECTL=" + fake, "RAILYARD=" + railyard}, "install-kubernetes.sh", "--file", file, "--lock", "gs://railyard-locks/schedule",
			"--bq_project", "railyard-prod", "--dataset_prefix", "prod_", "--image", "registry.example/railyard:1.0", "--namespace", "data",
			"--env", "GOOGLE_APPLICATION_CREDENTIALS=/etc/railyard/key.json")
		got, err := os.ReadFile(applied)
		if err != nil {
			t.Fatal(err)
		}
		s := settings(t)
		s.Binary, s.Source, s.Image, s.Namespace, s.Name = "/usr/local/bin/railyard", "/src/railyard", "registry.example/railyard:1.0", "data", "railyard-schedule"
		CheckKubernetes(t, string(got), example(t), s)
	})
}
