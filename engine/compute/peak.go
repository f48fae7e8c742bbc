package compute

import (
	"sync"
	"time"
)

// PeakGFLOPS measures this machine's float32 FMA throughput, in GFLOP/s,
// with threads goroutines each running a loop of independent 8-wide FMAs
// (the AVX2 assembly; with purego or without AVX2/FMA, a scalar Go
// multiply-add loop) for about 50 ms. It is the ceiling GEMM speeds are
// reported against; it is noisy on a shared machine, so take the best of a
// few calls made close to the measurement it is compared with.
func PeakGFLOPS(threads int) float64 {
	threads = max(threads, 1)
	const iters = 1 << 20
	peakLoop(iters / 16) // warm up (clock ramp, page faults)
	// Size the run to ~50 ms from a short calibration.
	t0 := time.Now()
	peakLoop(iters)
	per := time.Since(t0)
	n := iters
	if per > 0 {
		n = max(iters, int(float64(iters)*float64(50*time.Millisecond)/float64(per)))
	}
	var wg sync.WaitGroup
	flops := make([]float64, threads)
	start := time.Now()
	for i := range threads {
		wg.Go(func() { flops[i] = peakLoop(n) })
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	var total float64
	for _, f := range flops {
		total += f
	}
	return total / el / 1e9
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
