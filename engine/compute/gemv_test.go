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
			// Gemv: y (rows) = alpha·A·x (cols).
			x := randSlice(r, cols)
			y := randSlice(r, rows+1)
			guard := y[rows]
			Gemv(y[:rows], -0.5, a, lda, x)
			for i := range rows {
				want, scale := 0.0, 0.0
				for c := range cols {
					p := float64(a[i*lda+c]) * float64(x[c])
					want, scale = want+p, scale+math.Abs(p)
				}
				want *= -0.5
				if d := math.Abs(float64(y[i]) - want); d > float64(cols+4)*0x1p-23*scale*0.5+1e-30 {
					t.Fatalf("Gemv %dx%d: y[%d] = %v, want %v", rows, cols, i, y[i], want)
				}
			}
			if y[rows] != guard {
				t.Fatalf("Gemv %dx%d wrote past y", rows, cols)
			}
			// GemvT: y (cols) = Aᵀ·x (rows).
			xt := randSlice(r, rows)
			yt := randSlice(r, cols+1)
			guard = yt[cols]
			GemvT(yt[:cols], a, lda, xt)
			for c := range cols {
				want, scale := 0.0, 0.0
				for i := range rows {
					p := float64(a[i*lda+c]) * float64(xt[i])
					want, scale = want+p, scale+math.Abs(p)
				}
				if d := math.Abs(float64(yt[c]) - want); d > float64(rows+4)*0x1p-23*scale+1e-30 {
					t.Fatalf("GemvT %dx%d: y[%d] = %v, want %v", rows, cols, c, yt[c], want)
				}
			}
			if yt[cols] != guard {
				t.Fatalf("GemvT %dx%d wrote past y", rows, cols)
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Gemv with a short A did not panic")
		}
	}()
	Gemv(make([]float32, 2), 1, make([]float32, 3), 2, make([]float32, 2))
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
			x := randSlice(r, cols)
			y := randSlice(r, rows+1)
			guard := y[rows]
			GemvBF16(y[:rows], -0.5, a, lda, x)
			for i := range rows {
				want, scale := 0.0, 0.0
				for c := range cols {
					p := float64(af[i*lda+c]) * float64(x[c])
					want, scale = want+p, scale+math.Abs(p)
				}
				want *= -0.5
				if d := math.Abs(float64(y[i]) - want); d > float64(cols+4)*0x1p-23*scale*0.5+1e-30 {
					t.Fatalf("GemvBF16 %dx%d: y[%d] = %v, want %v", rows, cols, i, y[i], want)
				}
			}
			if y[rows] != guard {
				t.Fatalf("GemvBF16 %dx%d wrote past y", rows, cols)
			}
			xt := randSlice(r, rows)
			yt := randSlice(r, cols+1)
			guard = yt[cols]
			GemvTBF16(yt[:cols], a, lda, xt)
			for c := range cols {
				want, scale := 0.0, 0.0
				for i := range rows {
					p := float64(af[i*lda+c]) * float64(xt[i])
					want, scale = want+p, scale+math.Abs(p)
				}
				if d := math.Abs(float64(yt[c]) - want); d > float64(rows+4)*0x1p-23*scale+1e-30 {
					t.Fatalf("GemvTBF16 %dx%d: y[%d] = %v, want %v", rows, cols, c, yt[c], want)
				}
			}
			if yt[cols] != guard {
				t.Fatalf("GemvTBF16 %dx%d wrote past y", rows, cols)
			}
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
// sums' rounding is allowed: (n+4)·2⁻²³·Σ|terms|), for widths of one to
// four 32-element chunks and others (the fallback), row counts around
// the kernels' 16-row blocks and row pairs, and padded rows.
func TestGemvBF16BF16(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	t.Logf("VDPBF16PS kernels: %v", haveDPBF16)
	for _, cols := range []int{32, 64, 96, 128, 48, 160, 7} {
		for _, rows := range []int{1, 2, 3, 15, 16, 17, 33, 64, 257} {
			lda := cols + rows%3*8
			a, af := randBF16(r, (rows-1)*lda+cols)
			x, xf := randBF16(r, cols)
			y := randSlice(r, rows+1)
			guard := y[rows]
			GemvBF16BF16(y[:rows], 0.25, a, lda, x)
			for i := range rows {
				want, scale := 0.0, 0.0
				for c := range cols {
					p := float64(af[i*lda+c]) * float64(xf[c])
					want, scale = want+p, scale+math.Abs(p)
				}
				want *= 0.25
				if d := math.Abs(float64(y[i]) - want); d > float64(cols+4)*0x1p-23*scale*0.25+1e-30 {
					t.Fatalf("GemvBF16BF16 %dx%d: y[%d] = %v, want %v", rows, cols, i, y[i], want)
				}
			}
			if y[rows] != guard {
				t.Fatalf("GemvBF16BF16 %dx%d wrote past y", rows, cols)
			}
			xt, xtf := randBF16(r, rows)
			yt := randSlice(r, cols+1)
			guard = yt[cols]
			GemvTBF16BF16(yt[:cols], a, lda, xt)
			for c := range cols {
				want, scale := 0.0, 0.0
				for i := range rows {
					p := float64(af[i*lda+c]) * float64(xtf[i])
					want, scale = want+p, scale+math.Abs(p)
				}
				if d := math.Abs(float64(yt[c]) - want); d > float64(rows+4)*0x1p-23*scale+1e-30 {
					t.Fatalf("GemvTBF16BF16 %dx%d: y[%d] = %v, want %v", rows, cols, c, yt[c], want)
				}
			}
			if yt[cols] != guard {
				t.Fatalf("GemvTBF16BF16 %dx%d wrote past y", rows, cols)
			}
		}
	}
}
