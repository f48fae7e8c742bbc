//go:build !amd64 || purego

package compute

func sdot(x, y []float32) float32         { return sdotGo(x, y) }
func ssum(x []float32) float32            { return ssumGo(x) }
func saxpy(alpha float32, x, y []float32) { saxpyGo(alpha, x, y) }
func sscal(alpha float32, x []float32)    { sscalGo(alpha, x) }

func gemv(y []float32, alpha float32, a []float32, lda int, x []float32) {
	gemvGo(y, alpha, a, lda, x)
}

func gemvT(y, a []float32, lda int, x []float32) { gemvTGo(y, a, lda, x) }

func gemvBF16(y []float32, alpha float32, a []uint16, lda int, x []float32) {
	gemvBF16Go(y, alpha, a, lda, x)
}

func gemvTBF16(y []float32, a []uint16, lda int, x []float32) { gemvTBF16Go(y, a, lda, x) }
