package compute

import (
	"sync"
	"time"
)

// PeakGFLOPS measures this machine's float32 FMA throughput, in GFLOP/s,
// with threads goroutines each running a loop of independent 8-wide FMAs
// (the AVX2 assembly; with purego or without AVX2/FMA, a scalar Go
// multiply-add loop). Each goroutine times 24 slices of about 1 ms and keeps
// its best; the result is the sum of the per-thread bests, so a machine
// shared with other processes still reports its ceiling. It takes about
// 30 ms. It is the ceiling GEMM speeds are reported against.
func PeakGFLOPS(threads int) float64 {
	threads = max(threads, 1)
	const calib = 1 << 14
	peakLoop(calib) // warm up (clock ramp)
	t0 := time.Now()
	peakLoop(calib)
	n := calib
	if per := time.Since(t0); per > 0 {
		n = max(calib, int(float64(calib)*float64(time.Millisecond)/float64(per)))
	}
	var wg sync.WaitGroup
	best := make([]float64, threads)
	for i := range threads {
		wg.Go(func() {
			for range 24 {
				t := time.Now()
				f := peakLoop(n)
				best[i] = max(best[i], f/time.Since(t).Seconds())
			}
		})
	}
	wg.Wait()
	var total float64
	for _, f := range best {
		total += f
	}
	return total / 1e9
}

// peakLoopGo is the portable probe: n iterations of 8 independent scalar
// multiply-adds; it returns the FLOP done.
func peakLoopGo(n int) float64 {
	var a0, a1, a2, a3, a4, a5, a6, a7 float32
	x, y := float32(0.999), float32(1e-7)
	for range n {
		a0 = a0*x + y
		a1 = a1*x + y
		a2 = a2*x + y
		a3 = a3*x + y
		a4 = a4*x + y
		a5 = a5*x + y
		a6 = a6*x + y
		a7 = a7*x + y
	}
	// Use the chains so the loop is not dead code (x·0 is not folded for
	// floats).
	return float64(n)*16 + float64(a0+a1+a2+a3+a4+a5+a6+a7)*0
}
