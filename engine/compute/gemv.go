package compute

import "fmt"

// Gemv sets y[i] = alpha·Σ_c a[i·lda+c]·x[c] for i < len(y), c < len(x):
// y = alpha·A·x for the len(y)×len(x) matrix A of row stride lda. Eight rows
// are reduced at a time, each element of x loaded once for the eight. It
// runs on the calling goroutine (it is meant for many small products, such
// as a decoding query against its cached keys). It panics if A is too
// short.
func Gemv(y []float32, alpha float32, a []float32, lda int, x []float32) {
	checkGemv("Gemv", a, lda, len(y), len(x))
	if len(y) == 0 {
		return
	}
	if len(x) == 0 {
		clear(y)
		return
	}
	gemv(y, alpha, a, lda, x)
}

// GemvT sets y[c] = Σ_i x[i]·a[i·lda+c] for c < len(y), i < len(x): y = Aᵀ·x
// for the len(x)×len(y) matrix A of row stride lda, with y held in
// registers across all rows of A. It runs on the calling goroutine (it is
// meant for many small products, such as a decoding query's weighted sum
// of cached values). It panics if A is too short.
func GemvT(y, a []float32, lda int, x []float32) {
	checkGemv("GemvT", a, lda, len(x), len(y))
	if len(y) == 0 {
		return
	}
	if len(x) == 0 {
		clear(y)
		return
	}
	gemvT(y, a, lda, x)
}

func checkGemv(name string, a []float32, lda, rows, cols int) {
	checkGemvLen(name, len(a), lda, rows, cols)
}

func checkGemvLen(name string, na, lda, rows, cols int) {
	if rows == 0 || cols == 0 {
		return
	}
	if lda < cols {
		panic(fmt.Sprintf("compute: %s: lda=%d < %d", name, lda, cols))
	}
	if need := (rows-1)*lda + cols; na < need {
		panic(fmt.Sprintf("compute: %s: len(A)=%d < %d for %d×%d with lda=%d", name, na, need, rows, cols, lda))
	}
}

func gemvGo(y []float32, alpha float32, a []float32, lda int, x []float32) {
	for i := range y {
		y[i] = alpha * sdotGo(x, a[i*lda:i*lda+len(x)])
	}
}

func gemvTGo(y, a []float32, lda int, x []float32) {
	clear(y)
	for i, xi := range x {
		saxpyGo(xi, a[i*lda:i*lda+len(y)], y)
	}
}
