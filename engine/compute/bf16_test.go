package compute

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// randBF16 returns n random bfloat16 values in (-1, 1), and their float32
// values (exact).
func randBF16(r *rand.Rand, n int) ([]uint16, []float32) {
	w := make([]uint16, n)
	f := make([]float32, n)
	for i := range w {
		w[i] = uint16(math.Float32bits(float32(r.Float64()*2-1)) >> 16)
		f[i] = math.Float32frombits(uint32(w[i]) << 16)
	}
	return w, f
}

// checkBF16Gemm runs SgemmBF16 on p (SgemmBF16BF16 when round is set)
// and compares it with the float64 reference over the widened W (and X
// rounded to bfloat16 when round is set), with checkGemm's tolerance
// γ·(|alpha|·Σ|x||w| + |beta·c|), γ = (k+4)·2⁻²³. The ldc padding of C
// must be untouched.
func checkBF16Gemm(t *testing.T, p *Pool, r *rand.Rand, m, n, k, pad int, alpha, beta float32, round bool) {
	t.Helper()
	ldx, ldw, ldc := k+pad, k+2*pad, n+pad
	x := randSlice(r, m*ldx)
	xref, product := x, p.SgemmBF16
	if round {
		xref, product = make([]float32, len(x)), p.SgemmBF16BF16
		for i, v := range x {
			xref[i] = RoundBF16(v)
		}
	}
	w, wf := randBF16(r, n*ldw)
	c := randSlice(r, m*ldc)
	if beta == 0 {
		for i := range c {
			c[i] = float32(math.NaN()) // must not propagate
		}
	}
	orig := append([]float32(nil), c...)
	want, scale := sgemmRef(false, true, m, n, k, alpha, xref, ldx, wf, ldw, beta, c, ldc)
	product(m, n, k, alpha, x, ldx, w, ldw, beta, c, ldc)
	gamma := float64(k+4) * 0x1p-23
	for i := range m {
		for j := range ldc {
			got := c[i*ldc+j]
			if j >= n {
				if math.Float32bits(got) != math.Float32bits(orig[i*ldc+j]) {
					t.Fatalf("m=%d n=%d k=%d: C[%d][%d] in ldc padding changed", m, n, k, i, j)
				}
				continue
			}
			if d := math.Abs(float64(got) - want[i*n+j]); !(d <= gamma*scale[i*n+j]+1e-30) {
				t.Fatalf("m=%d n=%d k=%d alpha=%v beta=%v: C[%d][%d] = %v, want %v (|err| %.3g)", m, n, k, alpha, beta, i, j, got, want[i*n+j], d)
			}
		}
	}
}

// sweepBF16Gemm runs checkBF16Gemm over every m×n×k of the lists, cycling
// through the alpha/beta variants and ld paddings of 0 to 2.
func sweepBF16Gemm(t *testing.T, p *Pool, r *rand.Rand, ms, ns, ks []int, round bool) {
	t.Helper()
	i := 0
	for _, m := range ms {
		for _, n := range ns {
			for _, k := range ks {
				ab := alphaBetas[i%len(alphaBetas)]
				checkBF16Gemm(t, p, r, m, n, k, i%3, ab[0], ab[1], round)
				i++
			}
		}
	}
}

// TestSgemmBF16 covers the three paths (dot products up to 4 rows, widened
// strips up to 64, widened blocks beyond), edge strips and panels, strides,
// alpha/beta variants, and 1 to 3 threads.
func TestSgemmBF16(t *testing.T) {
	t.Parallel()
	ms := []int{1, 2, 4, 5, 6, 16, 17, 33, 64, 65, 130}
	ns := []int{1, 5, 6, 7, 13, 100}
	ks := []int{1, 7, 8, 31, 32, 33, 100}
	r := rand.New(rand.NewPCG(7, 8))
	for _, threads := range []int{1, 2, 3} {
		p := NewPool(threads)
		sweepBF16Gemm(t, p, r, ms, ns, ks, false)
		// Large enough to split over threads, and W in several blocks.
		checkBF16Gemm(t, p, r, 3, 700, 300, 1, 1, 0, false)
		checkBF16Gemm(t, p, r, 32, 770, 768, 0, 1, 1, false)
		checkBF16Gemm(t, p, r, 70, wideFloats/100+9, 100, 2, 0.5, -1, false)
		p.Close()
	}
}

// TestWidenBF16 checks the widening against the definition for lengths
// around the assembly's 32-element blocks.
func TestWidenBF16(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{0, 1, 31, 32, 33, 64, 100} {
		w, want := randBF16(r, n)
		got := make([]float32, n+1)
		got[n] = 42
		WidenBF16(got, w)
		for i := range n {
			if got[i] != want[i] {
				t.Fatalf("n=%d: [%d] = %v, want %v", n, i, got[i], want[i])
			}
		}
		if got[n] != 42 {
			t.Fatalf("n=%d: wrote past the source length", n)
		}
		if n > 0 {
			x := randSlice(r, n)
			d, ref := float64(sdotBF16(x, w)), 0.0
			for i := range x {
				ref += float64(x[i]) * float64(want[i])
			}
			if math.Abs(d-ref) > float64(n+4)*0x1p-23*float64(n) {
				t.Fatalf("n=%d: sdotBF16 = %v, want %v", n, d, ref)
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("WidenBF16 into a short dst did not panic")
		}
	}()
	WidenBF16(make([]float32, 1), make([]uint16, 2))
}

// BenchmarkSgemmBF16 compares decode-shaped products with bfloat16 weights
// against the same products with float32 weights (W 2048×768 per call,
// cycled through 64 MiB so that it streams from memory), and reports the
// bandwidth each reaches: bfloat16 moves half the bytes. dot is
// SgemmBF16BF16 (X rounded to bfloat16, VDPBF16PS where the CPU has it);
// dot_vs_bf16_speed is its speed over SgemmBF16's.
func BenchmarkSgemmBF16(b *testing.B) {
	const n, k = 2048, 768
	copies := (64 << 20) / (n * k * 2)
	r := rand.New(rand.NewPCG(1, 1))
	ws := make([][]uint16, copies)
	wf := make([][]float32, copies)
	for i := range ws {
		ws[i], wf[i] = randBF16(r, n*k)
	}
	dot := NewPool(0) // VDPBF16PS kernels even where AMX is
	dot.amx = false
	defer dot.Close()
	for _, m := range []int{1, 2, 4, 8, 32, 128} {
		x := randSlice(r, m*k)
		c := make([]float32, m*n)
		b.Run(sizeName(m), func(b *testing.B) {
			var tb, tf, td, ta float64
			for b.Loop() {
				for range 10 { // interleaved rounds, best of each
					s := nowSeconds()
					for i := range copies {
						SgemmBF16(m, n, k, 1, x, k, ws[i], k, 0, c, n)
					}
					tb = max(tb, float64(copies*n*k*2)/(nowSeconds()-s))
					s = nowSeconds()
					for i := range copies {
						dot.SgemmBF16BF16(m, n, k, 1, x, k, ws[i], k, 0, c, n)
					}
					td = max(td, float64(copies*n*k*2)/(nowSeconds()-s))
					if haveAMX {
						s = nowSeconds()
						for i := range copies {
							SgemmBF16BF16(m, n, k, 1, x, k, ws[i], k, 0, c, n)
						}
						ta = max(ta, float64(copies*n*k*2)/(nowSeconds()-s))
					}
					s = nowSeconds()
					for i := range copies {
						Sgemm(false, true, m, n, k, 1, x, k, wf[i], k, 0, c, n)
					}
					tf = max(tf, float64(copies*n*k*4)/(nowSeconds()-s))
				}
			}
			b.ReportMetric(tb/1e9, "bf16_GB/s")
			b.ReportMetric(td/1e9, "dot_GB/s")
			b.ReportMetric(tf/1e9, "f32_GB/s")
			b.ReportMetric(tb/2/(tf/4), "bf16_vs_f32_speed")
			b.ReportMetric(td/tb, "dot_vs_bf16_speed")
			b.ReportMetric(td/2*float64(2*m)/1e9, "dot_GFLOP/s")
			if haveAMX {
				b.ReportMetric(ta/1e9, "amx_GB/s")
				b.ReportMetric(ta/td, "amx_vs_dot_speed")
			}
		})
	}
}

func sizeName(m int) string { return "rows=" + strconv.Itoa(m) }

func nowSeconds() float64 { return float64(time.Now().UnixNano()) / 1e9 }
