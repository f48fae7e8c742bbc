//go:build amd64 && !purego

package compute

import "golang.org/x/sys/cpu"

// haveFMA reports whether the AVX2/FMA assembly can run on this CPU. It is
// fixed at start-up.
var haveFMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// kern6x16 is the AVX2/FMA micro-kernel: the contract of kernelGo, with
// unchecked pointers and element strides.
//
//go:noescape
func kern6x16(k int, a *float32, rsa, csa int, b *float32, rsb int, c *float32, ldc int, alpha, beta float32, mode int)

// fmaLoop runs n iterations of 12 independent ymm FMAs (192 FLOP each).
//
//go:noescape
func fmaLoop(n int)

// kernel is the micro-kernel; see kernelGo for the contract. k must be ≥ 1.
func kernel(k int, a []float32, rsa, csa int, b []float32, rsb int, c []float32, ldc int, alpha, beta float32, mode int) {
	if !haveFMA {
		kernelGo(k, a, rsa, csa, b, rsb, c, ldc, alpha, beta, mode)
		return
	}
	// Bounds of everything the assembly touches.
	_ = a[(mr-1)*rsa+(k-1)*csa]
	_ = b[(k-1)*rsb+nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	kern6x16(k, &a[0], rsa, csa, &b[0], rsb, &c[0], ldc, alpha, beta, mode)
}

// fmaFlopsPerIter is the work of one fmaLoop iteration.
const fmaFlopsPerIter = 12 * 8 * 2

// peakLoop runs the FMA probe for about n iterations and returns the FLOP
// done.
func peakLoop(n int) float64 {
	if !haveFMA {
		return peakLoopGo(n)
	}
	fmaLoop(n)
	return float64(n) * fmaFlopsPerIter
}
