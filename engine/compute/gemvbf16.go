package compute

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
