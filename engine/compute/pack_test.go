package compute

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestPackPanels checks packAPanel and packBPanel (including their assembly
// parts) element by element against op(A) and op(B), the zero padding of
// short panels, and that nothing past the panel is written.
func TestPackPanels(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	const guard = 24
	sentinel := float32(math.Inf(-1))
	for _, trans := range []bool{false, true} {
		for kb := 1; kb <= 41; kb++ {
			for rows := 1; rows <= nr; rows++ {
				// A panel: rows ≤ mr of op(A) (rows×kb), stored with ld = kb+3.
				if rows <= mr {
					ld := kb + 3
					if trans {
						ld = rows + 5
					}
					src := randSlice(r, (kb+rows)*ld)
					g := gemm{transA: trans, a: src, lda: ld}
					dst := make([]float32, kb*mr+guard)
					for i := range dst {
						dst[i] = sentinel
					}
					g.packAPanel(dst, 0, rows, 0, kb)
					for p := range kb {
						for i := range mr {
							want := float32(0)
							if i < rows {
								if trans {
									want = src[p*ld+i]
								} else {
									want = src[i*ld+p]
								}
							}
							if got := dst[p*mr+i]; got != want {
								t.Fatalf("packAPanel trans=%v kb=%d rows=%d: [p=%d,i=%d] = %v, want %v", trans, kb, rows, p, i, got, want)
							}
						}
					}
					for i := kb * mr; i < len(dst); i++ {
						if dst[i] != sentinel {
							t.Fatalf("packAPanel trans=%v kb=%d rows=%d wrote past the panel at %d", trans, kb, rows, i)
						}
					}
				}
				// B panel: cols ≤ nr of op(B) (kb×cols).
				cols := rows
				ld := cols + 2
				if trans {
					ld = kb + 7
				}
				src := randSlice(r, (kb+cols)*ld)
				g := gemm{transB: trans, b: src, ldb: ld}
				dst := make([]float32, kb*nr+guard)
				for i := range dst {
					dst[i] = sentinel
				}
				g.packBPanel(dst, 0, kb, 0, cols)
				for p := range kb {
					for j := range nr {
						want := float32(0)
						if j < cols {
							if trans {
								want = src[j*ld+p]
							} else {
								want = src[p*ld+j]
							}
						}
						if got := dst[p*nr+j]; got != want {
							t.Fatalf("packBPanel trans=%v kb=%d cols=%d: [p=%d,j=%d] = %v, want %v", trans, kb, cols, p, j, got, want)
						}
					}
				}
				for i := kb * nr; i < len(dst); i++ {
					if dst[i] != sentinel {
						t.Fatalf("packBPanel trans=%v kb=%d cols=%d wrote past the panel at %d", trans, kb, cols, i)
					}
				}
			}
		}
	}
}

// TestTranspose checks Transpose element by element (exact: it only moves
// values) over shapes with and without whole 8×8 blocks, padded strides,
// and one and two threads.
func TestTranspose(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, th := range []int{1, 2} {
		p := NewPool(th)
		for _, s := range []struct{ rows, cols, lds, ldd int }{
			{1, 1, 1, 1}, {3, 5, 5, 3}, {8, 8, 8, 8}, {16, 32, 32, 16}, {17, 9, 11, 20},
			{64, 200, 200, 64}, {4096, 32, 32, 4096}, {1290, 33, 40, 1300}, {7, 100, 100, 7},
		} {
			src := randSlice(r, (s.rows-1)*s.lds+s.cols)
			dst := make([]float32, (s.cols-1)*s.ldd+s.rows+3)
			for i := range dst {
				dst[i] = -1
			}
			p.Transpose(s.rows, s.cols, src, s.lds, dst, s.ldd)
			for i := range s.rows {
				for j := range s.cols {
					if got, want := dst[j*s.ldd+i], src[i*s.lds+j]; got != want {
						t.Fatalf("threads=%d %+v: dst[%d][%d]=%v, want %v", th, s, j, i, got, want)
					}
				}
			}
			for j := range s.cols { // the padding is untouched
				for i := s.rows; i < s.ldd && j*s.ldd+i < len(dst); i++ {
					if dst[j*s.ldd+i] != -1 {
						t.Fatalf("threads=%d %+v: padding dst[%d][%d] written", th, s, j, i)
					}
				}
			}
		}
		p.Close()
	}
}
