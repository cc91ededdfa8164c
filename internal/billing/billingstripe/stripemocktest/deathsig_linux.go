package stripemocktest

import (
	"os/exec"
	"syscall"
)

// setDeathSignal kills stripe-mock if the test binary dies without running Stop (a panic, a
// timeout, Ctrl-C), so no orphan keeps its ports.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
