//go:build unix && !linux

package jobserver

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts cmd in a process group of its own, so Close stops
// the script and the Java process it execs together.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
