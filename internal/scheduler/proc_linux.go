package scheduler

import (
	"os/exec"
	"syscall"
)

// startProcessGroup puts a pipeline in a process group of its own, so that
// a timeout stops everything it started, and has the kernel kill it if the
// scheduler dies: its lock then expires and another instance retries.
func startProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
