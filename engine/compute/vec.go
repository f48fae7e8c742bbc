package compute

import "fmt"

// Sdot returns the dot product Σ x[i]·y[i]. It panics if the lengths
// differ. The sum is accumulated in 32 float32 lanes (4 in pure Go), so it
// rounds differently from a sequential loop, and usually better.
func Sdot(x, y []float32) float32 {
	if len(x) != len(y) {
		panic(fmt.Sprintf("compute: Sdot: len(x)=%d != len(y)=%d", len(x), len(y)))
	}
	return sdot(x, y)
}

// Sum returns Σ x[i], accumulated like Sdot.
func Sum(x []float32) float32 { return ssum(x) }

// Saxpy computes y[i] += alpha·x[i]. It panics if the lengths differ.
func Saxpy(alpha float32, x, y []float32) {
	if len(x) != len(y) {
		panic(fmt.Sprintf("compute: Saxpy: len(x)=%d != len(y)=%d", len(x), len(y)))
	}
	saxpy(alpha, x, y)
}

// Scale computes x[i] *= alpha.
func Scale(alpha float32, x []float32) { sscal(alpha, x) }

func sdotGo(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func ssumGo(x []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i]
		s1 += x[i+1]
		s2 += x[i+2]
		s3 += x[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func saxpyGo(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

func sscalGo(alpha float32, x []float32) {
	for i := range x {
		x[i] *= alpha
	}
}
