//go:build !purego

package nn

import (
	"math"

	"golang.org/x/sys/cpu"
)

var haveAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func expSubSumAVX2(dst, src *float32, n int, sub float32) float32

//go:noescape
func sigmoidAVX2(dst, src *float32, n int)

// ExpSubSum sets dst[i] = exp(src[i] − sub) (as Expf) and returns the sum.
// dst may alias src.
func ExpSubSum(dst, src []float32, sub float32) float32 {
	n := len(src)
	dst = dst[:n]
	var s float64 // blocks of 512 are summed in float32 lanes, blocks in float64
	head := 0
	if haveAVX2 && n >= 8 {
		head = n &^ 7
		for b := 0; b < head; b += 512 {
			e := min(b+512, head)
			s += float64(expSubSumAVX2(&dst[b], &src[b], e-b, sub))
		}
	}
	for i := head; i < n; i++ {
		e := Expf(src[i] - sub)
		dst[i] = e
		s += float64(e)
	}
	return float32(s)
}

// Sigmoid sets dst[i] = 1/(1+exp(−src[i])). dst may alias src.
func Sigmoid(dst, src []float32) {
	n := len(src)
	dst = dst[:n]
	head := 0
	if haveAVX2 && n >= 8 {
		head = n &^ 7
		sigmoidAVX2(&dst[0], &src[0], head)
	}
	for i := head; i < n; i++ {
		dst[i] = 1 / (1 + Expf(-src[i]))
	}
}

//go:noescape
func maxAVX2(x *float32, n int) float32

// maxOf returns the largest of x, skipping NaNs (−Inf for none).
func maxOf(x []float32) float32 {
	m := float32(math.Inf(-1))
	head := 0
	if haveAVX2 && len(x) >= 32 {
		head = len(x) &^ 31
		m = maxAVX2(&x[0], head)
	}
	for _, v := range x[head:] {
		if v > m {
			m = v
		}
	}
	return m
}
