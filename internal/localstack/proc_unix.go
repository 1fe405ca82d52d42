//go:build unix && !linux

package localstack

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts cmd in a process group of its own, so Close can kill
// the whole group.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
