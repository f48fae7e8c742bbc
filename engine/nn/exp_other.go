//go:build !amd64 || purego

package nn

import "math"

// ExpSubSum sets dst[i] = exp(src[i] − sub) (as Expf) and returns the sum.
// dst may alias src.
func ExpSubSum(dst, src []float32, sub float32) float32 {
	dst = dst[:len(src)]
	var s float64
	for i, x := range src {
		e := Expf(x - sub)
		dst[i] = e
		s += float64(e)
	}
	return float32(s)
}

// Sigmoid sets dst[i] = 1/(1+exp(−src[i])). dst may alias src.
func Sigmoid(dst, src []float32) {
	dst = dst[:len(src)]
	for i, x := range src {
		dst[i] = 1 / (1 + Expf(-x))
	}
}

// maxOf returns the largest of x, skipping NaNs (−Inf for none).
func maxOf(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return m
}
