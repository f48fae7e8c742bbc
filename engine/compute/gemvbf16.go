package compute

import "sync"

// Matrix-vector products over a bfloat16 matrix, widened exactly as it is
// read: a decoding query against a bfloat16 KV cache reads half the bytes
// of a float32 one.

// GemvBF16 is Gemv for A given as bfloat16 bits: y[r] = alpha·Σ_c
// a[r·lda+c]·x[c]. It panics if A is too short.
func GemvBF16(y []float32, alpha float32, a []uint16, lda int, x []float32) {
	checkGemvLen("GemvBF16", len(a), lda, len(y), len(x))
	if len(y) == 0 {
		return
	}
	if len(x) == 0 {
		clear(y)
		return
	}
	gemvBF16(y, alpha, a, lda, x)
}

// GemvTBF16 is GemvT for A given as bfloat16 bits: y[c] = Σ_i
// x[i]·a[i·lda+c]. It panics if A is too short.
func GemvTBF16(y []float32, a []uint16, lda int, x []float32) {
	checkGemvLen("GemvTBF16", len(a), lda, len(x), len(y))
	if len(y) == 0 {
		return
	}
	if len(x) == 0 {
		clear(y)
		return
	}
	gemvTBF16(y, a, lda, x)
}

func gemvBF16Go(y []float32, alpha float32, a []uint16, lda int, x []float32) {
	for i := range y {
		row := a[i*lda : i*lda+len(x)]
		var s float32
		for c, v := range row {
			s += bf16ToF32(v) * x[c]
		}
		y[i] = alpha * s
	}
}

func gemvTBF16Go(y []float32, a []uint16, lda int, x []float32) {
	clear(y)
	for i, xi := range x {
		for c, v := range a[i*lda : i*lda+len(y)] {
			y[c] += xi * bf16ToF32(v)
		}
	}
}

// GemvBF16BF16 is GemvBF16 for x given as bfloat16 bits too: y[r] =
// alpha·Σ_c a[r·lda+c]·x[c], the products exact and the sums float32, on
// VDPBF16PS where the CPU has AVX512-BF16 (the scores of a bfloat16 query
// against a bfloat16 KV cache). It panics if A is too short.
func GemvBF16BF16(y []float32, alpha float32, a []uint16, lda int, x []uint16) {
	checkGemvLen("GemvBF16BF16", len(a), lda, len(y), len(x))
	if len(y) == 0 {
		return
	}
	done := gemvBF16BF16(y, alpha, a, lda, x)
	if done == len(y) {
		return
	}
	xf := widened(x)
	defer widenPool.Put(xf)
	GemvBF16(y[done:], alpha, a[done*lda:], lda, *xf)
}

// GemvTBF16BF16 is GemvTBF16 for x given as bfloat16 bits too: y[c] =
// Σ_i x[i]·a[i·lda+c], the products exact and the sums float32, on
// VDPBF16PS where the CPU has AVX512-BF16 (a bfloat16 cache's values
// weighted by bfloat16 probabilities). It panics if A is too short.
func GemvTBF16BF16(y []float32, a []uint16, lda int, x []uint16) {
	checkGemvLen("GemvTBF16BF16", len(a), lda, len(x), len(y))
	if len(y) == 0 {
		return
	}
	done := gemvTBF16BF16(y, a, lda, x)
	if done == len(x) {
		return
	}
	if done == 0 {
		xf := widened(x)
		defer widenPool.Put(xf)
		GemvTBF16(y, a, lda, *xf)
		return
	}
	// The odd last row.
	for c := range y {
		y[c] += bf16ToF32(x[done]) * bf16ToF32(a[done*lda+c])
	}
}

// widenPool keeps the float32 copies of x that the fallbacks of
// GemvBF16BF16 and GemvTBF16BF16 multiply by.
var widenPool = sync.Pool{New: func() any { return new([]float32) }}

// widened returns x widened to float32 in a buffer from widenPool.
func widened(x []uint16) *[]float32 {
	xf := widenPool.Get().(*[]float32)
	*xf = grow(*xf, len(x))
	widenBF16(*xf, x)
	return xf
}
