//go:build unix && !linux

package scheduler

import (
	"os/exec"
	"syscall"
)

// startProcessGroup puts a pipeline in a process group of its own, so that
// a timeout stops everything it started.
func startProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
