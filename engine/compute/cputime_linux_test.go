package compute

import (
	"time"

	"golang.org/x/sys/unix"
)

// processCPUTime is the CPU time consumed by all threads of this process.
func processCPUTime() (time.Duration, bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
