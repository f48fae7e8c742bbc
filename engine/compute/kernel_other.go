//go:build !amd64 || purego

package compute

// kernel is the micro-kernel; without the assembly it is kernelGo.
func kernel(k int, a []float32, rsa, csa int, b []float32, rsb int, c []float32, ldc int, alpha, beta float32, mode int) {
	kernelGo(k, a, rsa, csa, b, rsb, c, ldc, alpha, beta, mode)
}

// peakLoop runs the portable FMA probe; see peakLoopGo.
func peakLoop(n int) float64 { return peakLoopGo(n) }
