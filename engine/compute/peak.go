package compute

import (
	"sync"
	"time"
)

// PeakGFLOPS measures this machine's float32 FMA throughput, in GFLOP/s,
// with threads goroutines each running a loop of independent FMAs (16-wide
// on AVX-512 where the float32 kernel uses it, else 8-wide AVX2; with
// purego or without AVX2/FMA, a scalar Go multiply-add loop). Each goroutine times 24 slices of about 1 ms and keeps
// its best; the result is the sum of the per-thread bests, so a machine
// shared with other processes still reports its ceiling. It takes about
// 30 ms. It is the ceiling GEMM speeds are reported against.
func PeakGFLOPS(threads int) float64 { return peak(threads, peakLoop) }

// PeakBF16GFLOPS is PeakGFLOPS for the arithmetic of SgemmBF16BF16: a loop
// of VDPBF16PS (16 lanes, two products and two sums each) where the CPU
// has AVX512-BF16, the float32 FMA loop elsewhere.
func PeakBF16GFLOPS(threads int) float64 { return peak(threads, peakLoopBF16) }

// peak runs a probe loop (n iterations → FLOP done) as PeakGFLOPS describes.
func peak(threads int, peakLoop func(n int) float64) float64 {
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
