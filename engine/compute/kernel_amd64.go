//go:build amd64 && !purego

package compute

// kernel is the micro-kernel (assembly version pending).
func kernel(k int, a []float32, rsa, csa int, b []float32, rsb int, c []float32, ldc int, alpha, beta float32, mode int) {
	kernelGo(k, a, rsa, csa, b, rsb, c, ldc, alpha, beta, mode)
}
