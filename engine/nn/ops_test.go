package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/strata-ml/strata/engine/compute"
)

func refRMSNorm(x, g []float64, n, c int, eps float64) []float64 {
	o := make([]float64, len(x))
	for i := range n {
		ss := 0.0
		for j := range c {
			ss += x[i*c+j] * x[i*c+j]
		}
		r := 1 / math.Sqrt(ss/float64(c)+eps)
		for j := range c {
			o[i*c+j] = x[i*c+j] * r * g[j]
		}
	}
	return o
}

func TestRMSNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n, c, eps := 5, 8, 1e-5
	x, g := randVec(r, n*c, 1), randVec(r, c, 1)
	out, rstd := make([]float32, n*c), make([]float32, n)
	RMSNorm(out, rstd, x, g, n, c, eps)
	x64, g64 := to64(x), to64(g)
	checkClose(t, "out", out, refRMSNorm(x64, g64, n, c, eps), 1e-6)
	dout := randVec(r, n*c, 1)
	dx, dg := make([]float32, n*c), make([]float32, c)
	RMSNormBackward(dx, dg, dout, x, g, rstd, n, c)
	r64 := to64(dout)
	checkClose(t, "dx", dx, numGrad(x64, func(v []float64) []float64 { return refRMSNorm(v, g64, n, c, eps) }, r64), 1e-5)
	checkClose(t, "dg", dg, numGrad(g64, func(v []float64) []float64 { return refRMSNorm(x64, v, n, c, eps) }, r64), 1e-5)
	// RMSNormApply reproduces the forward from rstd.
	again := make([]float32, n*c)
	RMSNormApply(again, rstd, x, g, n, c)
	checkClose(t, "apply", again, to64(out), 0)
}

// TestAddRMSNorm: the fused residual add and norm equals Add then RMSNorm
// to the bit, with out aliasing h (as Step uses it) and not.
func TestAddRMSNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	n, c, eps := 7, 96, 1e-5
	x, h, g := randVec(r, n*c, 1), randVec(r, n*c, 1), randVec(r, c, 1)
	wantX := append([]float32(nil), x...)
	Add(wantX, h)
	want := make([]float32, n*c)
	RMSNorm(want, nil, wantX, g, n, c, eps)
	for _, alias := range []bool{false, true} {
		gx, gh := append([]float32(nil), x...), append([]float32(nil), h...)
		out := make([]float32, n*c)
		if alias {
			out = gh
		}
		AddRMSNorm(out, gx, gh, g, n, c, eps)
		checkClose(t, "x", gx, to64(wantX), 0)
		checkClose(t, "out", out, to64(want), 0)
	}
}

// TestSwiGLURows: SwiGLURows over gate and up side by side equals SwiGLU
// over them apart, whatever the row width (whole or partial vectors of the
// sigmoid, several 256-element blocks): to the bit where both take the
// vector sigmoid (widths that are multiples of 8), else within 2e-7·max
// (the sigmoid of the scalar tail differs from the vector one in the last
// bits, and each splits the elements differently).
func TestSwiGLURows(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, s := range []struct{ n, ff int }{{1, 1}, {3, 13}, {5, 300}, {33, 2048}, {2, 520}} {
		gu := randVec(r, s.n*2*s.ff, 4)
		gate, up := make([]float32, s.n*s.ff), make([]float32, s.n*s.ff)
		for i := range s.n {
			copy(gate[i*s.ff:], gu[2*i*s.ff:(2*i+1)*s.ff])
			copy(up[i*s.ff:], gu[(2*i+1)*s.ff:(2*i+2)*s.ff])
		}
		want := make([]float32, s.n*s.ff)
		SwiGLU(want, gate, up)
		got := make([]float32, s.n*s.ff)
		SwiGLURows(got, gu, s.n, s.ff)
		tol := 0.0
		if s.ff%8 != 0 {
			tol = 2e-7
		}
		checkClose(t, fmt.Sprintf("%+v", s), got, to64(want), tol)
	}
}

func refRope(x []float64, pos []int32, inv []float64, n, nh, d int) []float64 {
	o := append([]float64(nil), x...)
	half := d / 2
	for t := range n {
		for h := range nh {
			for i := range half {
				a := float64(pos[t]) * inv[i]
				c, s := math.Cos(a), math.Sin(a)
				b := (t*nh + h) * d
				o[b+i] = x[b+i]*c - x[b+i+half]*s
				o[b+i+half] = x[b+i+half]*c + x[b+i]*s
			}
		}
	}
	return o
}

func TestRope(t *testing.T) {
	for _, sc := range []RopeScaling{{}, {Kind: "linear", Factor: 4},
		{Kind: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 64}} {
		t.Run(sc.Kind, func(t *testing.T) {
			r := rand.New(rand.NewPCG(5, 6))
			n, nh, d := 6, 3, 16
			inv := RopeInvFreq(d, 500000, sc)
			pos := []int32{0, 1, 2, 0, 1, 700}
			x := randVec(r, n*nh*d, 1)
			cos, sin := RopeTable(pos, inv)
			y := append([]float32(nil), x...)
			Rope(y, cos, sin, n, nh, d, false)
			x64 := to64(x)
			checkClose(t, "fwd", y, refRope(x64, pos, inv, n, nh, d), 1e-6)
			dy := randVec(r, len(x), 1)
			dx := append([]float32(nil), dy...)
			Rope(dx, cos, sin, n, nh, d, true)
			checkClose(t, "bwd", dx, numGrad(x64, func(v []float64) []float64 { return refRope(v, pos, inv, n, nh, d) }, to64(dy)), 1e-5)
		})
	}
	// Llama-3 scaling against HF's _compute_llama3_parameters worked by hand:
	// d=4, θ=10000 → inv = [1, 0.01]; wavelengths 2π and 628.3; with
	// original 64, low 1, high 4: wave 2π < 16 stays; 628.3 > 64 → /8.
	inv := RopeInvFreq(4, 10000, RopeScaling{Kind: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 64})
	if math.Abs(inv[0]-1) > 1e-15 || math.Abs(inv[1]-0.01/8) > 1e-15 {
		t.Errorf("llama3 inv_freq = %v, want [1 0.00125]", inv)
	}
}

func refSwiGLU(g, u []float64) []float64 {
	o := make([]float64, len(g))
	for i := range g {
		o[i] = g[i] / (1 + math.Exp(-g[i])) * u[i]
	}
	return o
}

func TestSwiGLU(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	g, u := randVec(r, 40, 3), randVec(r, 40, 1)
	act := make([]float32, 40)
	SwiGLU(act, g, u)
	g64, u64 := to64(g), to64(u)
	checkClose(t, "act", act, refSwiGLU(g64, u64), 1e-6)
	inPlace := append([]float32(nil), g...)
	SwiGLU(inPlace, inPlace, u) // act aliasing gate (as Step does)
	checkClose(t, "act in place", inPlace, refSwiGLU(g64, u64), 1e-6)
	da := randVec(r, 40, 1)
	dg, du := make([]float32, 40), make([]float32, 40)
	SwiGLUBackward(dg, du, da, g, u)
	checkClose(t, "dgate", dg, numGrad(g64, func(v []float64) []float64 { return refSwiGLU(v, u64) }, to64(da)), 1e-5)
	checkClose(t, "dup", du, numGrad(u64, func(v []float64) []float64 { return refSwiGLU(g64, v) }, to64(da)), 1e-5)
}

func refLinear(x, w, b []float64, n, in, out int) []float64 {
	y := make([]float64, n*out)
	for i := range n {
		for o := range out {
			s := 0.0
			if b != nil {
				s = b[o]
			}
			for k := range in {
				s += x[i*in+k] * w[o*in+k]
			}
			y[i*out+o] = s
		}
	}
	return y
}

func TestLinear(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	n, in, out := 4, 6, 5
	x, w, b := randVec(r, n*in, 1), randVec(r, out*in, 1), randVec(r, out, 1)
	y := make([]float32, n*out)
	Linear(y, x, w, b, n, in, out)
	x64, w64, b64 := to64(x), to64(w), to64(b)
	checkClose(t, "y", y, refLinear(x64, w64, b64, n, in, out), 1e-6)
	dy := randVec(r, n*out, 1)
	dx, dw, db := make([]float32, n*in), make([]float32, out*in), make([]float32, out)
	LinearBackward(dx, dw, db, dy, x, w, n, in, out, false)
	d64 := to64(dy)
	checkClose(t, "dx", dx, numGrad(x64, func(v []float64) []float64 { return refLinear(v, w64, b64, n, in, out) }, d64), 1e-5)
	checkClose(t, "dw", dw, numGrad(w64, func(v []float64) []float64 { return refLinear(x64, v, b64, n, in, out) }, d64), 1e-5)
	checkClose(t, "db", db, numGrad(b64, func(v []float64) []float64 { return refLinear(x64, w64, v, n, in, out) }, d64), 1e-5)
}

func TestEmbedding(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	v, c := 7, 3
	w := randVec(r, v*c, 1)
	tokens := []int32{3, 0, 3, 6}
	out := make([]float32, len(tokens)*c)
	Embedding(out, w, tokens, c)
	ref := func(wv []float64) []float64 {
		o := make([]float64, len(tokens)*c)
		for i, tk := range tokens {
			copy(o[i*c:(i+1)*c], wv[int(tk)*c:(int(tk)+1)*c])
		}
		return o
	}
	w64 := to64(w)
	checkClose(t, "out", out, ref(w64), 0)
	dout := randVec(r, len(out), 1)
	dw := make([]float32, v*c)
	EmbeddingBackward(dw, dout, tokens, c)
	checkClose(t, "dw", dw, numGrad(w64, ref, to64(dout)), 1e-6)
	bf := make([]uint16, len(w))
	for i, x := range w {
		bf[i] = uint16(math.Float32bits(x) >> 16)
	}
	EmbeddingBF16(out, bf, tokens, c)
	for i, tk := range tokens {
		for j := range c {
			if want := math.Float32frombits(uint32(bf[int(tk)*c+j]) << 16); out[i*c+j] != want {
				t.Fatalf("bf16 embedding[%d,%d] = %v, want %v", i, j, out[i*c+j], want)
			}
		}
	}
}

func refCE(h, w []float64, targets []int32, n, c, v int) float64 {
	loss := 0.0
	for i := range n {
		if targets[i] < 0 {
			continue
		}
		lg := make([]float64, v)
		mx := math.Inf(-1)
		for j := range v {
			for k := range c {
				lg[j] += h[i*c+k] * w[j*c+k]
			}
			mx = max(mx, lg[j])
		}
		s := 0.0
		for _, x := range lg {
			s += math.Exp(x - mx)
		}
		loss += mx + math.Log(s) - lg[targets[i]]
	}
	return loss
}

func TestLMHeadLoss(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	n, c, v := 9, 4, 11
	h, w := randVec(r, n*c, 1), randVec(r, v*c, 1)
	targets := []int32{1, -100, 10, 0, 5, -100, 5, 7, 3}
	for _, chunk := range []int{0, 2, 3} {
		dw := make([]float32, v*c)
		head := LMHead{W: w, DW: dw, V: v, C: c, Chunk: chunk}
		dh := make([]float32, n*c)
		for i := range dh {
			dh[i] = 99 // must be overwritten
		}
		sum, cnt := head.Loss(h, targets, -100, dh, 0.5)
		h64, w64 := to64(h), to64(w)
		want := refCE(h64, w64, targets, n, c, v)
		if cnt != 7 || math.Abs(sum-want) > 1e-5*math.Abs(want) {
			t.Errorf("chunk %d: loss %v (%d rows), want %v (7)", chunk, sum, cnt, want)
		}
		one := []float64{0.5}
		checkClose(t, "dh", dh, numGrad(h64, func(x []float64) []float64 { return []float64{refCE(x, w64, targets, n, c, v)} }, one), 1e-5)
		checkClose(t, "dw", dw, numGrad(w64, func(x []float64) []float64 { return []float64{refCE(h64, x, targets, n, c, v)} }, one), 1e-5)
		fs, fc := (&LMHead{W: w, V: v, C: c, Chunk: chunk}).Loss(h, targets, -100, nil, 0)
		if fs != sum || fc != cnt {
			t.Errorf("forward-only loss %v/%d != %v/%d", fs, fc, sum, cnt)
		}
	}
}

// TestLMHeadLossThreads checks that the loss does not depend on how its
// rows were split between threads: the same bits with 1 thread and with 8
// (rows' losses are summed in row order, not as threads finish).
func TestLMHeadLossThreads(t *testing.T) {
	defer compute.SetThreads(compute.Threads())
	r := rand.New(rand.NewPCG(15, 16))
	n, c, v := 64, 16, 50
	h, w := randVec(r, n*c, 1), randVec(r, v*c, 1)
	targets := make([]int32, n)
	for i := range targets {
		targets[i] = int32(r.IntN(v))
	}
	var first float64
	for i, th := range []int{1, 8, 8, 8, 1} {
		compute.SetThreads(th)
		sum, _ := (&LMHead{W: w, V: v, C: c}).Loss(h, targets, -100, nil, 0)
		if i == 0 {
			first = sum
		} else if sum != first {
			t.Fatalf("%d threads: loss %v, 1 thread %v", th, sum, first)
		}
	}
}

func TestExpf(t *testing.T) {
	for x := -90.0; x < 88; x += 0.0137 {
		got := float64(Expf(float32(x)))
		want := math.Exp(float64(float32(x)))
		if want < 1.2e-38 { // float32 subnormal range: absolute error only
			if math.Abs(got-want) > 1.2e-38 {
				t.Fatalf("Expf(%v) = %v, want %v", x, got, want)
			}
			continue
		}
		if math.Abs(got-want) > 3e-7*want {
			t.Fatalf("Expf(%v) = %v, want %v (rel %g)", x, got, want, math.Abs(got-want)/want)
		}
	}
	if Expf(float32(math.Inf(-1))) != 0 || !math.IsInf(float64(Expf(100)), 1) {
		t.Error("Expf limits")
	}
}

func TestExpSubSumAndSigmoid(t *testing.T) {
	for _, n := range []int{0, 3, 8, 29, 1000, 131073} { // 131073: a Llama-3-sized vocabulary row
		src := make([]float32, n)
		for i := range src {
			src[i] = float32(i%97)*1.9 - 95
		}
		if n > 3 {
			src[1] = float32(math.Inf(-1))
			src[2] = 300
		}
		dst := make([]float32, n)
		s := ExpSubSum(dst, src, 2.5)
		var want float64
		for i, x := range src {
			w := math.Exp(float64(x - 2.5)) // the float32 difference is what is exponentiated
			if float64(x)-2.5 > 88 {
				w = float64(Expf(x - 2.5)) // both saturate
			}
			want += float64(dst[i])
			if math.Abs(float64(dst[i])-w) > 3e-7*w+1.2e-38 && !(math.IsInf(w, 1) && dst[i] > 1e38) {
				t.Fatalf("n=%d: exp(%v-2.5) = %v, want %v", n, x, dst[i], w)
			}
		}
		if math.Abs(float64(s)-want) > 1e-6*math.Abs(want)+1e-30 && want < math.MaxFloat32 {
			t.Errorf("n=%d: sum %v, want %v", n, s, want)
		}
		if n > 100000 { // accuracy of a long sum of moderate terms (softmax over a big vocabulary)
			for i := range src {
				src[i] = float32(math.Sin(float64(i))) * 10
			}
			s = ExpSubSum(dst, src, 3)
			want = 0
			for _, x := range src {
				want += math.Exp(float64(x - 3))
			}
			if math.Abs(float64(s)-want) > 1e-6*want {
				t.Errorf("long sum %v, want %v (rel %.2g)", s, want, math.Abs(float64(s)-want)/want)
			}
		}
		sg := make([]float32, n)
		Sigmoid(sg, src)
		for i, x := range src {
			w := 1 / (1 + math.Exp(-float64(x)))
			if math.Abs(float64(sg[i])-w) > 3e-7 {
				t.Fatalf("sigmoid(%v) = %v, want %v", x, sg[i], w)
			}
		}
	}
}

// TestMaxOf checks maxOf against the plain loop it replaces (`if v > m`
// from −Inf) around the kernel's 32-element blocks, with NaNs (skipped),
// infinities and ties of signed zeros.
func TestMaxOf(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	for _, n := range []int{0, 1, 7, 31, 32, 33, 64, 100, 257} {
		for trial := range 20 {
			x := make([]float32, n)
			for i := range x {
				switch r.IntN(12) {
				case 0:
					x[i] = float32(math.NaN())
				case 1:
					x[i] = float32(math.Inf(-1))
				case 2:
					x[i] = float32(math.Copysign(0, -1))
				default:
					x[i] = float32(r.NormFloat64() * 10)
				}
			}
			if trial == 0 && n > 0 {
				x[n-1] = float32(math.Inf(1))
			}
			want := float32(math.Inf(-1))
			for _, v := range x {
				if v > want {
					want = v
				}
			}
			if got := maxOf(x); got != want {
				t.Fatalf("n=%d trial %d: maxOf = %v, want %v (%v)", n, trial, got, want, x)
			}
		}
	}
}
