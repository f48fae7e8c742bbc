package compute

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
)

// sgemmRef is the reference: a float64-accumulated triple loop. It also
// returns, per element of C, the error scale alpha·Σ|a||b| + |beta·c| that
// the tolerance is relative to.
func sgemmRef(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) (want, scale []float64) {
	want = make([]float64, m*n)
	scale = make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s, sa float64
			for p := range k {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
				sa += math.Abs(float64(av) * float64(bv))
			}
			w := float64(alpha) * s
			sc := math.Abs(float64(alpha)) * sa
			if beta != 0 {
				w += float64(beta) * float64(c[i*ldc+j])
				sc += math.Abs(float64(beta) * float64(c[i*ldc+j]))
			}
			want[i*n+j] = w
			scale[i*n+j] = sc
		}
	}
	return want, scale
}

// gemmCase is one Sgemm call to check against the reference.
type gemmCase struct {
	transA, transB bool
	m, n, k        int
	padA, padB     int // extra leading-dimension elements
	padC           int
	alpha, beta    float32
}

func (tc gemmCase) String() string {
	return fmt.Sprintf("tA=%v,tB=%v,m=%d,n=%d,k=%d,pad=%d/%d/%d,alpha=%g,beta=%g",
		tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.padA, tc.padB, tc.padC, tc.alpha, tc.beta)
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.Float64()*2 - 1)
	}
	return s
}

// checkGemm runs tc on p and compares with sgemmRef. The tolerance is the
// classical dot-product bound |err| ≤ γ·(|alpha|·Σ|a||b| + |beta·c|) with
// γ = (k+4)·2⁻²³ (k rounding steps of float32, FMA or not, plus the alpha
// and beta multiplications and the final add, with a factor 2 of slack).
// Elements of C outside the m×n view (the ldc padding) must be untouched.
func checkGemm(t *testing.T, p *Pool, r *rand.Rand, tc gemmCase) {
	t.Helper()
	ar, ac := tc.m, tc.k
	if tc.transA {
		ar, ac = ac, ar
	}
	br, bc := tc.k, tc.n
	if tc.transB {
		br, bc = bc, br
	}
	lda, ldb, ldc := ac+tc.padA, bc+tc.padB, tc.n+tc.padC
	lda, ldb, ldc = max(lda, 1), max(ldb, 1), max(ldc, 1)
	a := randSlice(r, ar*lda)
	b := randSlice(r, br*ldb)
	c := randSlice(r, tc.m*ldc)
	if tc.beta == 0 {
		for i := range c {
			c[i] = float32(math.NaN()) // must not propagate
		}
	}
	orig := append([]float32(nil), c...)
	want, scale := sgemmRef(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	p.Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	gamma := float64(tc.k+4) * 0x1p-23
	bad := 0
	for i := range tc.m {
		for j := range ldc {
			got := c[i*ldc+j]
			if j >= tc.n {
				if math.Float32bits(got) != math.Float32bits(orig[i*ldc+j]) {
					t.Fatalf("%v: C[%d][%d] in ldc padding changed: %v -> %v", tc, i, j, orig[i*ldc+j], got)
				}
				continue
			}
			w, s := want[i*tc.n+j], scale[i*tc.n+j]
			if d := math.Abs(float64(got) - w); !(d <= gamma*s+1e-30) {
				t.Errorf("%v: C[%d][%d] = %v, want %v (|err| %.3g > tol %.3g)", tc, i, j, got, w, d, gamma*s)
				if bad++; bad > 5 {
					t.FailNow()
				}
			}
		}
	}
}

var alphaBetas = [][2]float32{{1, 0}, {1, 1}, {0.5, -1.5}, {-2, 0}, {1.25, 1}, {0, 0.5}, {0, 0}}

// TestSgemmShapes sweeps odd shapes around the tile sizes (mr=6, nr=16,
// skinny=64) for all transposes, strides and alpha/beta variants.
func TestSgemmShapes(t *testing.T) {
	t.Parallel()
	dims := []int{1, 2, 5, 6, 7, 13, 16, 17, 31, 33, 48, 64, 65, 70}
	if testing.Short() {
		dims = []int{1, 5, 6, 7, 16, 17, 65, 70}
	}
	p := NewPool(2)
	defer p.Close()
	r := rand.New(rand.NewPCG(1, 2))
	n := 0
	for _, m := range dims {
		for _, nn := range dims {
			for _, k := range dims {
				for tr := range 4 {
					ab := alphaBetas[n%len(alphaBetas)]
					n++
					checkGemm(t, p, r, gemmCase{
						transA: tr&1 != 0, transB: tr&2 != 0, m: m, n: nn, k: k,
						padA: n % 3, padB: (n / 3) % 4, padC: n % 2, alpha: ab[0], beta: ab[1],
					})
				}
			}
		}
	}
}

// TestSgemmSweep runs every size 1..70 in each dimension with the other two
// fixed.
func TestSgemmSweep(t *testing.T) {
	t.Parallel()
	p := NewPool(2)
	defer p.Close()
	r := rand.New(rand.NewPCG(3, 4))
	for d := 1; d <= 70; d++ {
		for tr := range 4 {
			ab := alphaBetas[(d+tr)%len(alphaBetas)]
			tA, tB := tr&1 != 0, tr&2 != 0
			checkGemm(t, p, r, gemmCase{transA: tA, transB: tB, m: d, n: 37, k: 23, padA: 1, alpha: ab[0], beta: ab[1]})
			checkGemm(t, p, r, gemmCase{transA: tA, transB: tB, m: 29, n: d, k: 41, padB: 2, alpha: ab[0], beta: ab[1]})
			checkGemm(t, p, r, gemmCase{transA: tA, transB: tB, m: 19, n: 35, k: d, padC: 3, alpha: ab[0], beta: ab[1]})
		}
	}
}

// TestSgemmBlocks covers shapes that cross the kc, mc and nc blocks, the
// skinny in-place paths and the thread splits, on 1, 2 and 3 threads.
func TestSgemmBlocks(t *testing.T) {
	t.Parallel()
	shapes := [][3]int{
		{145, 130, 513}, // crosses mc and kc
		{7, nc + 21, 5}, // crosses nc
		{300, 20, 600},  // skinny n: A read in place, over kc blocks
		{301, 64, 257},  // skinny n edge
		{20, 300, 600},  // skinny m: B read in place
		{64, 97, 300},   // skinny m edge
		{512, 16, 96},   // LoRA-down-like
		{96, 200, 16},   // LoRA-up-like
		{1, 700, 300},   // vector × matrix
		{8, 300, 600},   // few rows: swapped, B streamed once in one k block
		{16, 130, 700},  // few rows edge
		{300, 20, 2100}, // skinny n with k past the in-place B bound
		{700, 1, 300},   // matrix × vector
		{770, 33, 768},  // decode-like W·Xᵀ: the row slabs share one packed B
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, threads := range []int{1, 2, 3} {
		p := NewPool(threads)
		p.sharedA = 64 * 513 // shared A packed in several row blocks
		for i, s := range shapes {
			for tr := range 4 {
				ab := alphaBetas[(i+tr)%len(alphaBetas)]
				checkGemm(t, p, r, gemmCase{
					transA: tr&1 != 0, transB: tr&2 != 0, m: s[0], n: s[1], k: s[2],
					padA: tr, padB: 3 - tr, padC: i % 3, alpha: ab[0], beta: ab[1],
				})
			}
		}
		p.Close()
	}
}

// TestSgemmDefault checks the package-level function and SetThreads.
func TestSgemmDefault(t *testing.T) {
	a := []float32{1, 2, 3, 4, 5, 6} // 2×3
	b := []float32{1, 0, 0, 1, 1, 1} // 3×2
	c := []float32{float32(math.NaN()), 9, 9, 9}
	Sgemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2)
	want := []float32{4, 5, 10, 11}
	for i := range want {
		if c[i] != want[i] {
			t.Fatalf("Sgemm = %v, want %v", c, want)
		}
	}
	if got := Threads(); got < 1 {
		t.Errorf("Threads() = %d, want ≥ 1", got)
	}
}

// TestSgemmZeroSizes covers m, n or k = 0 and alpha = 0.
func TestSgemmZeroSizes(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	r := rand.New(rand.NewPCG(7, 8))
	for _, s := range [][3]int{{0, 5, 5}, {5, 0, 5}, {5, 5, 0}, {0, 0, 0}} {
		for _, ab := range alphaBetas {
			checkGemm(t, p, r, gemmCase{m: s[0], n: s[1], k: s[2], alpha: ab[0], beta: ab[1]})
		}
	}
}

// TestSgemmPanics checks that inconsistent arguments panic.
func TestSgemmPanics(t *testing.T) {
	s := make([]float32, 100)
	tests := []struct {
		name string
		call func()
	}{
		{"negative m", func() { Sgemm(false, false, -1, 2, 2, 1, s, 2, s, 2, 0, s, 2) }},
		{"lda too small", func() { Sgemm(false, false, 2, 2, 3, 1, s, 2, s, 2, 0, s, 2) }},
		{"ldb too small transB", func() { Sgemm(false, true, 2, 2, 3, 1, s, 3, s, 2, 0, s, 2) }},
		{"ldc too small", func() { Sgemm(false, false, 2, 3, 2, 1, s, 2, s, 3, 0, s, 2) }},
		{"short A", func() { Sgemm(false, false, 20, 2, 6, 1, s, 6, s, 2, 0, s, 2) }},
		{"short C", func() { Sgemm(false, false, 2, 60, 2, 1, s, 2, s[:20], 10, 0, s, 60) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tt.name)
				}
			}()
			tt.call()
		})
	}
}

// TestSgemmConcurrent calls Sgemm on one pool from many goroutines at once,
// some from inside Parallel (nested), and checks every result.
func TestSgemmConcurrent(t *testing.T) {
	t.Parallel()
	p := NewPool(2)
	defer p.Close()
	shapes := [][3]int{{70, 90, 65}, {130, 40, 33}, {33, 200, 17}, {9, 9, 9}}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 9))
			for it := range 6 {
				s := shapes[(g+it)%len(shapes)]
				m, n, k := s[0], s[1], s[2]
				a, b := randSlice(r, m*k), randSlice(r, k*n)
				c := make([]float32, m*n)
				if it%2 == 0 {
					p.Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
				} else {
					// Row halves computed by nested calls.
					p.Parallel(2, func(lo, hi int) {
						i0, i1 := lo*m/2, hi*m/2
						p.Sgemm(false, false, i1-i0, n, k, 1, a[i0*k:], k, b, n, 0, c[i0*n:], n)
					})
				}
				want, scale := sgemmRef(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
				for i := range c {
					if math.Abs(float64(c[i])-want[i]) > float64(k+4)*0x1p-23*scale[i] {
						errs <- fmt.Sprintf("goroutine %d iter %d %v: C[%d] = %v, want %v", g, it, s, i, c[i], want[i])
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestSgemmDeterministic checks that results are bit-identical across
// thread counts and repeated calls (training runs are reproducible).
func TestSgemmDeterministic(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(13, 14))
	pools := []*Pool{NewPool(1), NewPool(2), NewPool(3)}
	defer func() {
		for _, p := range pools {
			p.Close()
		}
	}()
	for _, s := range [][3]int{{130, 150, 400}, {300, 20, 500}, {3, 200, 100}, {16, 700, 300}, {70, 1000, 30}, {200, 100, 64}} {
		for tr := range 4 {
			tA, tB := tr&1 != 0, tr&2 != 0
			m, n, k := s[0], s[1], s[2]
			a, b := randSlice(r, m*k), randSlice(r, k*n)
			lda, ldb := k, n
			if tA {
				lda = m
			}
			if tB {
				ldb = k
			}
			var want []float32
			for i, p := range pools {
				for range 2 {
					c := make([]float32, m*n)
					p.Sgemm(tA, tB, m, n, k, 1.5, a, lda, b, ldb, 0, c, n)
					if want == nil {
						want = c
						continue
					}
					for j := range c {
						if math.Float32bits(c[j]) != math.Float32bits(want[j]) {
							t.Fatalf("%v tA=%v tB=%v: threads=%d C[%d] = %v, want %v (1 thread)", s, tA, tB, i+1, j, c[j], want[j])
						}
					}
				}
			}
		}
	}
}
