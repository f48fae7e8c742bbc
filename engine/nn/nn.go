// Package nn holds the decoder's operations as stateless forward/backward
// pairs over row-major float32 slices, with the shapes each expects. Matrix
// products go through compute.Sgemm and row loops through compute.Parallel.
//
// Shape glossary: B batch, T sequence, N = B·T tokens, C hidden, H heads, Hkv
// KV heads, D head dim, V vocab, FF MLP width, L layers. A token's heads are
// contiguous: q is (N, H·D) with head h of token n at q[n·H·D + h·D:][:D].
//
// Conventions: Forward functions overwrite their outputs. Backward functions
// ADD parameter gradients (dW, dg, db) into their buffers and, unless
// documented otherwise, OVERWRITE input gradients (dx). Weights use the
// Hugging Face layout: a Linear with in inputs and out outputs holds W as
// (out, in) and computes y = x·Wᵀ + b.
//
// Ops: [Linear]/[LinearBackward], [Embedding]/[EmbeddingBackward],
// [RMSNorm]/[RMSNormBackward], [Rope] (forward and, with inverse=true,
// backward), [AttentionForward]/[AttentionBackward] (causal GQA, online
// softmax over key tiles, packed-document and sliding-window masks),
// [SwiGLU]/[SwiGLUBackward], and the fused LM head + cross-entropy
// [LMHeadLoss] that never holds more than a chunk of rows × V logits.
package nn

import (
	"math"
	"sync"

	"github.com/strata-ml/strata/engine/compute"
)

// Linear computes y = x·Wᵀ (+ b), overwriting y.
//
//	x (N, in)   w (out, in)   b (out) or nil   y (N, out)
func Linear(y, x, w, b []float32, n, in, out int) {
	compute.Sgemm(false, true, n, out, in, 1, x, in, w, in, 0, y, out)
	if b != nil {
		AddBias(y, b, n, out)
	}
}

// LinearAcc computes y += alpha·x·Wᵀ.
func LinearAcc(y, x, w []float32, n, in, out int, alpha float32) {
	compute.Sgemm(false, true, n, out, in, alpha, x, in, w, in, 1, y, out)
}

// AddBias adds b (out) to every row of y (N, out).
func AddBias(y, b []float32, n, out int) {
	compute.Parallel(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := y[i*out : (i+1)*out]
			for j, bv := range b[:out] {
				row[j] += bv
			}
		}
	})
}

// LinearBackward is the backward of Linear.
//
//	dy (N, out)  x (N, in)  w (out, in)
//	dx (N, in)   if non-nil: dx = dy·W (or dx += dy·W when accDX)
//	dw (out, in) if non-nil: dw += dyᵀ·x
//	db (out)     if non-nil: db += Σ_n dy
func LinearBackward(dx, dw, db, dy, x, w []float32, n, in, out int, accDX bool) {
	if dx != nil {
		beta := float32(0)
		if accDX {
			beta = 1
		}
		compute.Sgemm(false, false, n, in, out, 1, dy, out, w, in, beta, dx, in)
	}
	if dw != nil {
		compute.Sgemm(true, false, out, in, n, 1, dy, out, x, in, 1, dw, in)
	}
	if db != nil {
		ColSumAcc(db, dy, n, out)
	}
}

// ColSumAcc adds the column sums of m (N, out) into s (out).
func ColSumAcc(s, m []float32, n, out int) {
	var mu sync.Mutex
	compute.Parallel(out, func(lo, hi int) {
		part := make([]float64, hi-lo)
		for i := range n {
			row := m[i*out+lo : i*out+hi]
			for j, v := range row {
				part[j] += float64(v)
			}
		}
		mu.Lock()
		for j, v := range part {
			s[lo+j] += float32(v)
		}
		mu.Unlock()
	})
}

// Add computes dst += src elementwise.
func Add(dst, src []float32) {
	compute.Parallel(len(dst), func(lo, hi int) {
		d := dst[lo:hi]
		for i, v := range src[lo:hi] {
			d[i] += v
		}
	})
}

// Expf is a float32 exp accurate to about 2 ulp for x in [-87, 88], 0 below
// and +Inf above; it is several times faster than math.Exp.
func Expf(x float32) float32 {
	if x != x {
		return x
	}
	if x < -87.33 {
		return 0
	}
	if x > 88.0 {
		return float32(math.Inf(1))
	}
	t := x * 1.4426950408889634
	var n int32
	if t >= 0 {
		n = int32(t + 0.5)
	} else {
		n = int32(t - 0.5)
	}
	fn := float32(n)
	r := x - fn*0.693145751953125 - fn*1.428606765330187e-06
	p := float32(1.0 / 5040)
	p = p*r + 1.0/720
	p = p*r + 1.0/120
	p = p*r + 1.0/24
	p = p*r + 1.0/6
	p = p*r + 0.5
	p = p*r + 1
	p = p*r + 1
	if n < -126 {
		return p * math.Float32frombits(uint32(n+127+64)<<23) * 5.421010862427522e-20 // 2^-64
	}
	return p * math.Float32frombits(uint32(n+127)<<23)
}

// DecodeBF16 widens bfloat16 bits into dst (same length).
func DecodeBF16(dst []float32, src []uint16) {
	compute.Parallel(len(src), func(lo, hi int) {
		d := dst[lo:hi]
		for i, b := range src[lo:hi] {
			d[i] = math.Float32frombits(uint32(b) << 16)
		}
	})
}

// MatMulAcc computes c += alpha·a·b.
//
//	a (m, k)  b (k, n)  c (m, n)
func MatMulAcc(c, a, b []float32, m, n, k int, alpha float32) {
	compute.Sgemm(false, false, m, n, k, alpha, a, k, b, n, 1, c, n)
}
