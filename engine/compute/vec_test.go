package compute

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestVec checks Sdot, Sum, Saxpy and Scale against float64 references for
// every length 0..100 and unaligned starts. Tolerances: a sum of n terms is
// within (n+2)·2⁻²³·Σ|terms| (γ_n bound with slack); Saxpy and Scale are
// elementwise, within 2 ulp-scale (2⁻²²·|terms|).
func TestVec(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for n := 0; n <= 100; n++ {
		for _, off := range []int{0, 1, 3} {
			x := randSlice(r, n+off)[off:]
			y := randSlice(r, n+off)[off:]
			var dot, adot, sum, asum float64
			for i := range n {
				dot += float64(x[i]) * float64(y[i])
				adot += math.Abs(float64(x[i]) * float64(y[i]))
				sum += float64(x[i])
				asum += math.Abs(float64(x[i]))
			}
			tol := float64(n+2) * 0x1p-23
			if got := Sdot(x, y); math.Abs(float64(got)-dot) > tol*adot {
				t.Errorf("n=%d off=%d: Sdot = %v, want %v", n, off, got, dot)
			}
			if got := Sum(x); math.Abs(float64(got)-sum) > tol*asum {
				t.Errorf("n=%d off=%d: Sum = %v, want %v", n, off, got, sum)
			}
			alpha := float32(-1.75)
			want := make([]float64, n)
			for i := range n {
				want[i] = float64(y[i]) + float64(alpha)*float64(x[i])
			}
			yy := append([]float32(nil), y...)
			Saxpy(alpha, x, yy)
			for i := range n {
				s := math.Abs(float64(y[i])) + math.Abs(float64(alpha)*float64(x[i]))
				if math.Abs(float64(yy[i])-want[i]) > 0x1p-22*s {
					t.Fatalf("n=%d off=%d: Saxpy y[%d] = %v, want %v", n, off, i, yy[i], want[i])
				}
			}
			xx := append([]float32(nil), x...)
			Scale(alpha, xx)
			for i := range n {
				if w := alpha * x[i]; xx[i] != w {
					t.Fatalf("n=%d off=%d: Scale x[%d] = %v, want %v", n, off, i, xx[i], w)
				}
			}
		}
	}
}

// TestVecPanics checks the length checks.
func TestVecPanics(t *testing.T) {
	tests := []struct {
		name string
		call func()
	}{
		{"Sdot", func() { Sdot(make([]float32, 3), make([]float32, 4)) }},
		{"Saxpy", func() { Saxpy(1, make([]float32, 4), make([]float32, 3)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("%s with different lengths: no panic", tt.name)
				}
			}()
			tt.call()
		})
	}
}

// BenchmarkVec reports GB/s of the vector ops on L1/L2-resident vectors.
func BenchmarkVec(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{4096, 65536} {
		x, y := randSlice(r, n), randSlice(r, n)
		bytes := func(arrays int) float64 { return float64(arrays * 4 * n) }
		run := func(name string, moved float64, fn func()) {
			b.Run(fmt.Sprintf("%s/n=%d", name, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					fn()
				}
				b.ReportMetric(moved*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			})
		}
		var s float32
		run("Sdot", bytes(2), func() { s += Sdot(x, y) })
		run("Sum", bytes(1), func() { s += Sum(x) })
		run("Saxpy", bytes(3), func() { Saxpy(1e-9, x, y) })
		run("Scale", bytes(2), func() { Scale(1, x) })
		_ = s
	}
}
