package jobserver

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts cmd in a process group of its own (so Close stops
// the script and the Java process it execs together) and has the kernel
// SIGKILL it if this process dies first: a crashed test never leaves a job
// server behind.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
