package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The op tests compare each float32 forward against a naive float64
// reference, and each backward against central finite differences of that
// float64 reference (step 1e-6). Tolerance: |got − want| ≤ tol·(max|want| + 1e-3)
// with tol stated per test (float32 rounding of a few hundred terms).

func randVec(r *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * scale)
	}
	return v
}

func to64(v []float32) []float64 {
	o := make([]float64, len(v))
	for i, x := range v {
		o[i] = float64(x)
	}
	return o
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, math.Abs(x))
	}
	return m
}

func checkClose(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", what, len(got), len(want))
	}
	lim := tol * (maxAbs(want) + 1e-3)
	worst, wi := 0.0, 0
	for i := range got {
		d := math.Abs(float64(got[i]) - want[i])
		if d > worst || math.IsNaN(d) {
			worst, wi = d, i
		}
	}
	if worst > lim || math.IsNaN(worst) {
		t.Errorf("%s: max |diff| %.3g at %d (got %g, want %g) > %.3g", what, worst, wi, got[wi], want[wi], lim)
	}
}

// numGrad returns d(Σ f(x)·r)/dx by central differences in float64.
func numGrad(x []float64, f func([]float64) []float64, r []float64) []float64 {
	g := make([]float64, len(x))
	const h = 1e-6
	for i := range x {
		old := x[i]
		x[i] = old + h
		p := dot(f(x), r)
		x[i] = old - h
		m := dot(f(x), r)
		x[i] = old
		g[i] = (p - m) / (2 * h)
	}
	return g
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// refAttention is a naive float64 causal GQA attention with seg and window masks.
func refAttention(q, k, v []float64, seg []int32, s AttnShape) []float64 {
	hd, kd := s.H*s.D, s.Hkv*s.D
	o := make([]float64, s.B*s.T*hd)
	sc := 1 / math.Sqrt(float64(s.D))
	for b := range s.B {
		for h := range s.H {
			kh := h / (s.H / s.Hkv)
			for i := range s.T {
				qi := q[(b*s.T+i)*hd+h*s.D:][:s.D]
				var w []float64
				var idx []int
				mx := math.Inf(-1)
				for j := 0; j <= i; j++ {
					if s.Window > 0 && i-j >= s.Window {
						continue
					}
					if seg != nil && seg[b*s.T+i] != seg[b*s.T+j] {
						continue
					}
					kj := k[(b*s.T+j)*kd+kh*s.D:][:s.D]
					x := 0.0
					for c := range s.D {
						x += qi[c] * kj[c]
					}
					x *= sc
					w = append(w, x)
					idx = append(idx, j)
					mx = max(mx, x)
				}
				sum := 0.0
				for n := range w {
					w[n] = math.Exp(w[n] - mx)
					sum += w[n]
				}
				out := o[(b*s.T+i)*hd+h*s.D:][:s.D]
				for n, j := range idx {
					vj := v[(b*s.T+j)*kd+kh*s.D:][:s.D]
					for c := range s.D {
						out[c] += w[n] / sum * vj[c]
					}
				}
			}
		}
	}
	return o
}

func TestAttention(t *testing.T) {
	tests := []struct {
		name   string
		s      AttnShape
		packed bool
	}{
		{"mha", AttnShape{B: 1, T: 5, H: 2, Hkv: 2, D: 4}, false},
		{"gqa", AttnShape{B: 2, T: 7, H: 4, Hkv: 2, D: 4}, false},
		{"window", AttnShape{B: 2, T: 9, H: 2, Hkv: 1, D: 4, Window: 3}, false},
		{"packed", AttnShape{B: 2, T: 9, H: 2, Hkv: 1, D: 4}, true},
		{"tiles", AttnShape{B: 1, T: 150, H: 2, Hkv: 1, D: 2, Window: 70}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			s := tt.s
			n := s.B * s.T
			q, k, v := randVec(r, n*s.H*s.D, 1), randVec(r, n*s.Hkv*s.D, 1), randVec(r, n*s.Hkv*s.D, 1)
			var seg []int32
			if tt.packed {
				seg = make([]int32, n)
				for i := range seg {
					seg[i] = int32((i % s.T) / 4) // documents of 4 tokens
				}
			}
			segLo := SegmentStarts(seg, s.B, s.T)
			o := make([]float32, n*s.H*s.D)
			lse := make([]float32, s.B*s.H*s.T)
			AttentionForward(o, lse, q, k, v, seg, segLo, s)
			q64, k64, v64 := to64(q), to64(k), to64(v)
			checkClose(t, "o", o, refAttention(q64, k64, v64, seg, s), 1e-5)
			if s.T > 200 { // keep finite differences cheap
				return
			}
			do := randVec(r, len(o), 1)
			dq, dk, dv := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))
			AttentionBackward(dq, dk, dv, do, o, lse, q, k, v, seg, segLo, s)
			r64 := to64(do)
			checkClose(t, "dq", dq, numGrad(q64, func(x []float64) []float64 { return refAttention(x, k64, v64, seg, s) }, r64), 1e-4)
			checkClose(t, "dk", dk, numGrad(k64, func(x []float64) []float64 { return refAttention(q64, x, v64, seg, s) }, r64), 1e-4)
			checkClose(t, "dv", dv, numGrad(v64, func(x []float64) []float64 { return refAttention(q64, k64, x, seg, s) }, r64), 1e-4)
		})
	}
}

// TestAttentionCached checks inference attention against the float64
// reference (tolerance 1e-5 of the largest output): the cache holds T tokens, of which
// the last nq are the new queries; nq = 1 is the decoding path, longer
// contexts than its stack buffer included.
func TestAttentionCached(t *testing.T) {
	tests := []struct {
		name string
		s    AttnShape
		nq   int
	}{
		{"decode-mha", AttnShape{B: 1, T: 6, H: 2, Hkv: 2, D: 4}, 1},
		{"decode-gqa", AttnShape{B: 1, T: 9, H: 6, Hkv: 2, D: 8}, 1},
		{"decode-window", AttnShape{B: 1, T: 12, H: 4, Hkv: 2, D: 4, Window: 5}, 1},
		{"decode-first-token", AttnShape{B: 1, T: 1, H: 4, Hkv: 1, D: 4}, 1},
		{"decode-long", AttnShape{B: 1, T: 700, H: 4, Hkv: 2, D: 8}, 1},
		{"decode-long-window", AttnShape{B: 1, T: 700, H: 4, Hkv: 2, D: 8, Window: 600}, 1},
		{"chunk", AttnShape{B: 1, T: 20, H: 4, Hkv: 2, D: 4}, 7},
		{"chunk-window", AttnShape{B: 1, T: 90, H: 2, Hkv: 1, D: 4, Window: 40}, 33},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, 4))
			s := tt.s
			q, k, v := randVec(r, s.T*s.H*s.D, 1), randVec(r, s.T*s.Hkv*s.D, 1), randVec(r, s.T*s.Hkv*s.D, 1)
			want := refAttention(to64(q), to64(k), to64(v), nil, s)
			hd := s.H * s.D
			p0 := s.T - tt.nq
			o := make([]float32, tt.nq*hd)
			AttentionCached(o, q[p0*hd:], k, v, tt.nq, s.T, p0, s.H, s.Hkv, s.D, s.Window)
			checkClose(t, "o", o, want[p0*hd:], 1e-5)
		})
	}
}
