package compute

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGemv checks Gemv and GemvT against float64 sums for sizes around the
// assembly's blocks (8 rows, 8 and 32 columns), with padded rows. Tolerance
// (n+4)·2⁻²³·Σ|terms|, as for Sgemm.
func TestGemv(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	sizes := []int{1, 3, 7, 8, 9, 16, 31, 32, 33, 64, 65, 100}
	for _, rows := range sizes {
		for _, cols := range sizes {
			lda := cols + rows%3
			a := randSlice(r, (rows-1)*lda+cols) // no padding after the last row
			x, xt := randSlice(r, cols), randSlice(r, rows)
			checkMV(t, r, "Gemv", rows, cols, lda, a, x, -0.5, false, func(y []float32) { Gemv(y, -0.5, a, lda, x) })
			checkMV(t, r, "GemvT", rows, cols, lda, a, xt, 1, true, func(y []float32) { GemvT(y, a, lda, xt) })
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Gemv with a short A did not panic")
		}
	}()
	Gemv(make([]float32, 2), 1, make([]float32, 3), 2, make([]float32, 2))
}

// checkMV runs a matrix-vector product of the rows×cols matrix a (row
// stride lda) into y and checks it against float64 sums: y = alpha·A·x
// (rows values), or y = Aᵀ·x (cols values) if trans, within
// (n+4)·2⁻²³·|alpha|·Σ|terms| for sums of n terms; nothing past y may
// change.
func checkMV(t *testing.T, r *rand.Rand, name string, rows, cols, lda int, a, x []float32, alpha float64, trans bool, run func(y []float32)) {
	t.Helper()
	n, terms := rows, cols
	if trans {
		n, terms = cols, rows
	}
	y := randSlice(r, n+1)
	guard := y[n]
	run(y[:n])
	for i := range n {
		want, scale := 0.0, 0.0
		for j := range terms {
			at := i*lda + j
			if trans {
				at = j*lda + i
			}
			p := float64(a[at]) * float64(x[j])
			want, scale = want+p, scale+math.Abs(p)
		}
		want *= alpha
		if d := math.Abs(float64(y[i]) - want); d > float64(terms+4)*0x1p-23*scale*math.Abs(alpha)+1e-30 {
			t.Fatalf("%s %dx%d: y[%d] = %v, want %v", name, rows, cols, i, y[i], want)
		}
	}
	if y[n] != guard {
		t.Fatalf("%s %dx%d wrote past y", name, rows, cols)
	}
}

// TestGemvBF16 checks GemvBF16 and GemvTBF16 against float64 sums over the
// widened matrix, with TestGemv's sizes and tolerance.
func TestGemvBF16(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	sizes := []int{1, 3, 7, 8, 9, 16, 31, 32, 33, 64, 65, 100, 130}
	for _, rows := range sizes {
		for _, cols := range sizes {
			lda := cols + rows%3
			a, af := randBF16(r, (rows-1)*lda+cols)
			x, xt := randSlice(r, cols), randSlice(r, rows)
			checkMV(t, r, "GemvBF16", rows, cols, lda, af, x, -0.5, false, func(y []float32) { GemvBF16(y, -0.5, a, lda, x) })
			checkMV(t, r, "GemvTBF16", rows, cols, lda, af, xt, 1, true, func(y []float32) { GemvTBF16(y, a, lda, xt) })
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("GemvBF16 with a short A did not panic")
		}
	}()
	GemvBF16(make([]float32, 2), 1, make([]uint16, 3), 2, make([]float32, 2))
}

// TestGemvBF16BF16 checks GemvBF16BF16 and GemvTBF16BF16 against float64
// sums over the widened operands (exact products, so only the float32
// sums' rounding is allowed, as in TestGemv), for widths of one to four
// 32-element chunks and others (the fallback), row counts around the
// kernels' 16-row blocks and row pairs, and padded rows.
func TestGemvBF16BF16(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	t.Logf("VDPBF16PS kernels: %v", haveDPBF16)
	for _, cols := range []int{32, 64, 96, 128, 48, 160, 7} {
		for _, rows := range []int{1, 2, 3, 15, 16, 17, 33, 64, 257} {
			lda := cols + rows%3*8
			a, af := randBF16(r, (rows-1)*lda+cols)
			x, xf := randBF16(r, cols)
			xt, xtf := randBF16(r, rows)
			checkMV(t, r, "GemvBF16BF16", rows, cols, lda, af, xf, 0.25, false, func(y []float32) { GemvBF16BF16(y, 0.25, a, lda, x) })
			checkMV(t, r, "GemvTBF16BF16", rows, cols, lda, af, xtf, 1, true, func(y []float32) { GemvTBF16BF16(y, a, lda, xt) })
		}
	}
}
