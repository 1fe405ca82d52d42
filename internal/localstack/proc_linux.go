package localstack

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts cmd in a process group of its own (so Close can kill
// the whole group) and has the kernel SIGKILL it if this process dies first
// (a panicking or timed-out test binary never leaves an emulator behind).
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
