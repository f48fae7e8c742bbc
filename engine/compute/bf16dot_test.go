package compute

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// TestSgemmBF16BF16 checks the bfloat16×bfloat16 product against the
// float64 reference over X rounded to bfloat16 and the widened W, with
// checkGemm's tolerance γ·(|alpha|·Σ|x||w| + |beta·c|), γ = (k+4)·2⁻²³:
// row counts around the 4-row tiles and the L2 passes, W tiles of 6 rows
// with partial last tiles, k around the 32-element steps (the masked
// tail), strides, alpha/beta variants, and 1 to 3 threads. Without
// AVX512-BF16 it checks the rounding fallback.
func TestSgemmBF16BF16(t *testing.T) {
	t.Parallel()
	t.Logf("VDPBF16PS kernel: %v", haveDPBF16)
	ms := []int{1, 3, 4, 5, 8, 17, 33, 64}
	ns := []int{1, 5, 6, 7, 13, 100}
	ks := []int{1, 7, 31, 32, 33, 64, 100}
	r := rand.New(rand.NewPCG(11, 12))
	for _, threads := range []int{1, 2, 3} {
		p := NewPool(threads)
		p.amx = false // the VDPBF16PS kernels (TestSgemmBF16BF16AMX has the tiles)
		sweepBF16Gemm(t, p, r, ms, ns, ks, true)
		// Split over threads; X in several L2 passes (k=2050: 31 rows).
		checkBF16Gemm(t, p, r, 3, 700, 300, 1, 1, 0, true)
		checkBF16Gemm(t, p, r, 32, 770, 768, 0, 1, 1, true)
		checkBF16Gemm(t, p, r, 130, 31, 2050, 2, 0.5, -1, true)
		p.Close()
	}
}

// TestSgemmBF16BF16AMX checks the AMX kernels as TestSgemmBF16BF16 checks
// the VDPBF16PS ones (same bound, γ=(k+4)·2⁻²³): one and two blocks of 16
// rows of X with partial blocks, rows of W past the last 32 (on the
// VDPBF16PS kernel, or the rounded fallback below 4 rows), depths of one
// to many tiles, strides, alpha/beta, 1–3 threads, and the shapes of a
// model's decode and prefill.
func TestSgemmBF16BF16AMX(t *testing.T) {
	t.Parallel()
	if !haveAMX {
		t.Skip("no AMX-BF16 here (or STRATA_AMX=off)")
	}
	ms := []int{1, 2, 4, 15, 16, 17, 31, 32, 33, 47, 64, 100}
	ns := []int{32, 33, 64, 95, 100, 160}
	ks := []int{32, 64, 96, 576}
	r := rand.New(rand.NewPCG(15, 16))
	for _, threads := range []int{1, 2, 3} {
		p := NewPool(threads)
		if !p.useAMX(32, 32, 32) {
			t.Fatal("pool does not use AMX")
		}
		sweepBF16Gemm(t, p, r, ms, ns, ks, true)
		checkBF16Gemm(t, p, r, 32, 2048, 576, 0, 1, 0, true)
		checkBF16Gemm(t, p, r, 1, 4096, 64, 1, 1, 0, true)
		checkBF16Gemm(t, p, r, 256, 96, 2048, 2, 0.5, -1, true)
		checkBF16Gemm(t, p, r, 8, 1000, 1536, 0, 1, 1, true)
		p.Close()
	}
}

// TestRoundBF16 checks the rounding against its definition: the nearest
// bfloat16, ties to even, through RoundBF16 and through the vector
// conversion of SgemmBF16BF16 (roundRow), lengths around its 16-element
// blocks.
func TestRoundBF16(t *testing.T) {
	cases := []struct{ in, want uint32 }{
		{0x3f800000, 0x3f80}, // 1
		{0x3f808000, 0x3f80}, // tie, even below
		{0x3f818000, 0x3f82}, // tie, even above
		{0x3f808001, 0x3f81}, // just above the tie
		{0x3f807fff, 0x3f80}, // just below the tie
		{0xbf808001, 0xbf81}, // negative
		{0x7f7fffff, 0x7f80}, // max float rounds to +Inf
		{0x7f800000, 0x7f80}, // +Inf
		{0xff800000, 0xff80}, // -Inf
		{0x00000000, 0x0000}, // +0
		{0x80000000, 0x8000}, // -0
		{0x7fc00000, 0x7fc0}, // NaN
	}
	for _, c := range cases {
		got := toBF16(math.Float32frombits(c.in))
		if uint32(got) != c.want {
			t.Errorf("toBF16(%#08x) = %#04x, want %#04x", c.in, got, c.want)
		}
		if r := RoundBF16(math.Float32frombits(c.in)); math.Float32bits(r) != c.want<<16 {
			t.Errorf("RoundBF16(%#08x) = %#08x", c.in, math.Float32bits(r))
		}
	}
	if v := toBF16(math.Float32frombits(0x7f800001)); v&0x7f80 != 0x7f80 || v&0x7f == 0 {
		t.Errorf("signalling NaN rounds to %#04x, not a NaN", v)
	}
	r := rand.New(rand.NewPCG(13, 14))
	for _, n := range []int{1, 15, 16, 17, 100} {
		src := randSlice(r, n)
		dst := make([]uint16, n+1)
		dst[n] = 42
		roundRow(dst[:n], src)
		for i, v := range src {
			if dst[i] != toBF16(v) {
				t.Fatalf("n=%d: roundRow[%d] = %#04x, want %#04x", n, i, dst[i], toBF16(v))
			}
		}
		if dst[n] != 42 {
			t.Fatalf("n=%d: roundRow wrote past the end", n)
		}
	}
}

// FuzzRoundBF16 checks that RoundBF16 returns the nearest bfloat16 value
// (ties to even) of any float32.
func FuzzRoundBF16(f *testing.F) {
	for _, b := range []uint32{0, 0x3f808000, 0x7f7fffff, 0xff7fffff, 0x00018000, 0x7fc00001} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b uint32) {
		x := math.Float32frombits(b)
		got := RoundBF16(x)
		if x != x {
			if got == got {
				t.Fatalf("NaN %#08x rounds to %v", b, got)
			}
			return
		}
		lo := math.Float32frombits(b &^ 0xffff)         // toward zero
		hi := math.Float32frombits(b&^0xffff + 0x10000) // away from zero
		hf := float64(hi)
		if math.IsInf(hf, 0) { // rounding rounds as if the exponent went on
			hf = math.Copysign(0x1p128, hf)
		}
		dl, dh := math.Abs(float64(x)-float64(lo)), math.Abs(hf-float64(x))
		want := lo
		if dh < dl || (dh == dl && (b>>16)&1 == 1) {
			want = hi
		}
		if math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("RoundBF16(%#08x) = %#08x, want %#08x", b, math.Float32bits(got), math.Float32bits(want))
		}
	})
}

// TestDPBF16Generated checks that dpbf16_amd64.s is what gen_dpbf16.go
// writes (go generate ./engine/compute after changing the generator).
func TestDPBF16Generated(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the Go toolchain")
	}
	for gen, file := range map[string]string{"gen_dpbf16.go": "dpbf16_amd64.s", "gen_amx.go": "amx_amd64.s"} {
		out := filepath.Join(t.TempDir(), file)
		cmd := exec.Command("go", "run", gen, "-o", out)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go run %s: %v\n%s", gen, err, b)
		}
		want, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go generate ./engine/compute", file)
		}
	}
}

// TestTranspose16 checks the 16×16 transpose that packs X for the AMX
// kernels and writes their results into C: every row count, strides
// wider than the block, and nothing written past the rows asked for.
func TestTranspose16(t *testing.T) {
	if !haveAMX {
		t.Skip("used with the AMX kernels only")
	}
	src := make([]uint32, 16*20)
	for i := range src {
		src[i] = uint32(i + 1)
	}
	for rows := 1; rows <= 16; rows++ {
		dst := make([]uint32, 17*18)
		transpose16(&dst[0], 18*4, &src[0], 20*4, rows)
		for c := range 17 {
			for r := range 18 {
				want := uint32(0)
				if c < rows && r < 16 {
					want = src[r*20+c]
				}
				if dst[c*18+r] != want {
					t.Fatalf("rows=%d: dst[%d][%d] = %d, want %d", rows, c, r, dst[c*18+r], want)
				}
			}
		}
	}
}

// TestAMXConcurrent runs the AMX kernels from many goroutines at once, on
// shared and private pools, while another goroutine collects garbage and
// allocates: preemption signals and thread switches land between (and, as
// signals, during) kernel calls, and each call must still see only its own
// tiles. Every result must equal, bit for bit, the same product computed
// alone on one thread (the kernels sum in a fixed order).
func TestAMXConcurrent(t *testing.T) {
	if !haveAMX {
		t.Skip("no AMX-BF16 here (or STRATA_AMX=off)")
	}
	r := rand.New(rand.NewPCG(17, 18))
	type prod struct {
		m, n, k int
		x       []float32
		w       []uint16
		want    []float32
	}
	one := NewPool(1)
	defer one.Close()
	var prods []prod
	for _, s := range [][3]int{{1, 96, 64}, {7, 64, 576}, {32, 160, 128}, {48, 64, 256}, {100, 32, 96}, {32, 256, 2048}} {
		m, n, k := s[0], s[1], s[2]
		pr := prod{m: m, n: n, k: k, x: randSlice(r, m*k), want: make([]float32, m*n)}
		pr.w, _ = randBF16(r, n*k)
		one.SgemmBF16BF16(m, n, k, 1, pr.x, k, pr.w, k, 0, pr.want, n)
		prods = append(prods, pr)
	}
	stop := make(chan struct{})
	churned := make(chan struct{})
	go func() {
		defer close(churned)
		var keep [][]byte
		for {
			select {
			case <-stop:
				return
			default:
			}
			keep = append(keep, make([]byte, 1<<16))
			if len(keep) > 64 {
				keep = keep[:0]
				runtime.GC()
			}
		}
	}()
	shared := NewPool(3)
	defer shared.Close()
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			p := shared
			if g%2 == 1 {
				p = NewPool(2)
				defer p.Close()
			}
			for i := range 1200 {
				pr := prods[(g+i)%len(prods)]
				c := make([]float32, pr.m*pr.n)
				p.SgemmBF16BF16(pr.m, pr.n, pr.k, 1, pr.x, pr.k, pr.w, pr.k, 0, c, pr.n)
				for j := range c {
					if math.Float32bits(c[j]) != math.Float32bits(pr.want[j]) {
						errs <- fmt.Sprintf("goroutine %d call %d (m=%d n=%d k=%d): C[%d] = %v, alone %v", g, i, pr.m, pr.n, pr.k, j, c[j], pr.want[j])
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-churned
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestSgemmBF16BF16NN checks SgemmBF16BF16NN (weights along the depth)
// against the float64 reference over X rounded to bfloat16 and the widened
// W, with TestSgemmBF16BF16's bound: on the AMX tiles (where they run) and
// off them, row counts around the 32-row calls, columns around the
// 16-column blocks, depths around the 32-element steps (odd ones padded),
// strides, alpha/beta, 1–3 threads, and the shapes of a prompt's weighted
// sums of cached values.
func TestSgemmBF16BF16NN(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(25, 26))
	i := 0
	for _, amx := range []bool{true, false} {
		if amx && !haveAMX {
			continue
		}
		for _, threads := range []int{1, 2, 3} {
			p := NewPool(threads)
			p.amx = amx
			for _, m := range []int{1, 5, 16, 31, 32, 33, 100} {
				for _, n := range []int{16, 32, 48, 64, 100} {
					for _, k := range []int{1, 7, 31, 32, 33, 64, 250} {
						ab := alphaBetas[i%len(alphaBetas)]
						checkBF16GemmNN(t, p, r, m, n, k, i%3, ab[0], ab[1])
						i++
					}
				}
			}
			checkBF16GemmNN(t, p, r, 256, 64, 2048, 192, 1, 0)
			p.Close()
		}
	}
}

func checkBF16GemmNN(t *testing.T, p *Pool, r *rand.Rand, m, n, k, pad int, alpha, beta float32) {
	t.Helper()
	ldx, ldw, ldc := k+pad, n+2*pad, n+pad
	x := randSlice(r, m*ldx)
	xr := make([]float32, len(x))
	for i, v := range x {
		xr[i] = RoundBF16(v)
	}
	w, wf := randBF16(r, k*ldw)
	c := randSlice(r, m*ldc)
	if beta == 0 {
		for i := range c {
			c[i] = float32(math.NaN()) // must not propagate
		}
	}
	orig := append([]float32(nil), c...)
	want, scale := sgemmRef(false, false, m, n, k, alpha, xr, ldx, wf, ldw, beta, c, ldc)
	p.SgemmBF16BF16NN(m, n, k, alpha, x, ldx, w, ldw, beta, c, ldc)
	gamma := float64(k+4) * 0x1p-23
	for i := range m {
		for j := range ldc {
			got := c[i*ldc+j]
			if j >= n {
				if math.Float32bits(got) != math.Float32bits(orig[i*ldc+j]) {
					t.Fatalf("amx=%v m=%d n=%d k=%d: C[%d][%d] in ldc padding changed", p.amx, m, n, k, i, j)
				}
				continue
			}
			if d := math.Abs(float64(got) - want[i*n+j]); !(d <= gamma*scale[i*n+j]+1e-30) {
				t.Fatalf("amx=%v m=%d n=%d k=%d alpha=%v beta=%v: C[%d][%d] = %v, want %v", p.amx, m, n, k, alpha, beta, i, j, got, want[i*n+j])
			}
		}
	}
}
