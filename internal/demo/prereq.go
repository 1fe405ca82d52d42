package demo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/railyard-dev/railyard/internal/localstack"
)

// clangInstall is the command that installs clang on Debian and Ubuntu.
const clangInstall = "apt-get install -y clang"

// geteuid is os.Geteuid; a test replaces it to take the not-root path on a
// machine where it runs as root.
var geteuid = os.Geteuid

// ensureEmulator makes sure the BigQuery emulator binary exists: when it
// must be built, clang is checked first (and installed as root on Debian or
// Ubuntu; otherwise the demo stops at once with the command to run), the
// emulator's modules are downloaded with progress, and the build shows
// progress too. log receives the output of apt-get.
func ensureEmulator(ctx context.Context, out, log io.Writer) error {
	bin, ready, err := localstack.BigQueryEmulatorBinary()
	if err != nil {
		return err
	}
	if ready {
		fmt.Fprintf(out, "  BigQuery emulator: %s (built before)\n", bin)
		return nil
	}
	fmt.Fprintf(out, "  the BigQuery emulator is built once, with clang, into %s\n", bin)
	if err := ensureClang(ctx, out, log); err != nil {
		return err
	}
	if _, err := exec.LookPath("go"); err != nil {
		return errors.New("building the BigQuery emulator needs the go command on PATH")
	}
	took, err := during(ctx, out, "downloading the emulator's Go modules", 2*time.Minute, func() error {
		last := time.Time{}
		return localstack.DownloadBigQueryEmulatorModules(ctx, func(done, total int) {
			if time.Since(last) > 5*time.Second && !isTerminal(out) || done == total {
				fmt.Fprintf(out, "  modules: %d of %d\n", done, total)
				last = time.Now()
			}
		})
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  modules downloaded in %s\n", took.Round(time.Second))
	took, err = during(ctx, out, "building the BigQuery emulator", 11*time.Minute, func() error {
		_, err := localstack.EnsureBigQueryEmulator(ctx, log)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  built the BigQuery emulator in %s (cached: later runs skip this)\n", took.Round(time.Second))
	return nil
}

// ensureClang installs clang when it is missing and the demo may (root on
// Debian or Ubuntu), and otherwise stops with the command to run.
func ensureClang(ctx context.Context, out, log io.Writer) error {
	if haveClang() {
		return nil
	}
	if geteuid() != 0 || !debianLike() {
		return fmt.Errorf("the BigQuery emulator needs clang to build, and clang is missing: run\n\n    sudo %s\n\n"+
			"(Debian/Ubuntu; elsewhere your system's clang package), then start the demo again; or set %s to a prebuilt bigquery-emulator binary",
			clangInstall, localstack.EnvBigQueryEmulator)
	}
	fmt.Fprintf(out, "  clang is missing and this is Debian/Ubuntu as root: installing it with\n    apt-get update && %s\n", clangInstall)
	took, err := during(ctx, out, "installing clang with apt-get", 2*time.Minute, func() error {
		for _, args := range [][]string{{"update", "-q"}, {"install", "-y", "-q", "--no-install-recommends", "clang"}} {
			cmd := exec.CommandContext(ctx, "apt-get", args...)
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			cmd.Stdout, cmd.Stderr = log, log
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("apt-get %s: %w (see the demo log)", strings.Join(args, " "), err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !haveClang() {
		return fmt.Errorf("apt-get installed clang but clang and clang++ are not on PATH; run %s by hand", clangInstall)
	}
	fmt.Fprintf(out, "  installed clang in %s\n", took.Round(time.Second))
	return nil
}

func haveClang() bool {
	_, err1 := exec.LookPath("clang")
	_, err2 := exec.LookPath("clang++")
	return err1 == nil && err2 == nil
}

// debianLike reports whether /etc/os-release names Debian or a derivative
// (Ubuntu) and apt-get is there.
func debianLike() bool {
	if _, err := exec.LookPath("apt-get"); err != nil {
		return false
	}
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		v = strings.Trim(v, `"`)
		if (k == "ID" || k == "ID_LIKE") && (strings.Contains(v, "debian") || strings.Contains(v, "ubuntu")) {
			return true
		}
	}
	return false
}
