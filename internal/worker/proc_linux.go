package worker

import "syscall"

// childAttr kills the child when the worker process dies (kill -9), so a
// restarted worker never races an orphan over the same checkpoint dir.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
