//go:build !amd64 || purego

package compute

// kernels runs the micro-kernel down a column of tiles; without the assembly
// it is kernelsGo.
func kernels(tiles, k int, a []float32, rsa, csa, pa int, b []float32, rsb int, c []float32, ldc int, alpha, beta float32, mode int) {
	kernelsGo(tiles, k, a, rsa, csa, pa, b, rsb, c, ldc, alpha, beta, mode)
}

// kernelsPF is kernels; there is nothing to prefetch with.
func kernelsPF(tiles, k int, a []float32, rsa, csa, pa int, b []float32, rsb int, c []float32, ldc int, alpha, beta float32, mode int, pf []float32, pfL1 bool) {
	kernelsGo(tiles, k, a, rsa, csa, pa, b, rsb, c, ldc, alpha, beta, mode)
}

// transposeBlocks is only available with the assembly.
func transposeBlocks(blocks int, src []float32, lds int, dst []float32, ldd int) bool { return false }

// packA6Blocks is only available with the assembly.
func packA6Blocks(blocks int, src []float32, lda int, dst []float32) bool { return false }

// packB16Rows is only available with the assembly.
func packB16Rows(rows, panels int, src []float32, lds int, dst []float32, kb int) bool {
	return false
}

// peakLoop runs the portable FMA probe; see peakLoopGo.
func peakLoop(n int) float64 { return peakLoopGo(n) }
