//go:build !linux

package stripemocktest

import "os/exec"

// setDeathSignal has no portable equivalent outside Linux; Stop does the work there.
func setDeathSignal(*exec.Cmd) {}
