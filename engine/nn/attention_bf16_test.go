package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/strata-ml/strata/engine/compute"
)

// TestAttentionCachedBF16 checks attention over a bfloat16 cache against a
// float64 reference of llama.cpp's BF16-cache semantics (query rounded to
// bfloat16, softmax in full precision, probabilities rounded to bfloat16,
// exact products): one to many query rows (the per-row and the product
// paths), causal offsets, a sliding window, grouped heads, and a head
// width that is not a multiple of 32. Tolerance 2⁻⁸·Σ p|v| + 1e-6: a
// probability that lies within a float32 rounding of a bfloat16 tie may
// round either way; anything else wrong (a mask, a head, the scale) is far
// outside it. TestLlamaCppParityBF16 pins the rounding itself.
func TestAttentionCachedBF16(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	bf := func(n int) ([]uint16, []float64) {
		b := make([]uint16, n)
		f := make([]float64, n)
		for i := range b {
			b[i] = uint16(math.Float32bits(compute.RoundBF16(float32(r.NormFloat64()))) >> 16)
			f[i] = float64(math.Float32frombits(uint32(b[i]) << 16))
		}
		return b, f
	}
	for _, c := range []struct{ nq, qOff, h, hkv, d, window int }{
		{1, 0, 4, 2, 64, 0}, {1, 30, 4, 2, 64, 0}, {3, 12, 4, 2, 64, 0}, {5, 0, 4, 2, 64, 0},
		{17, 9, 4, 2, 64, 0}, {17, 9, 4, 1, 64, 6}, {1, 40, 2, 2, 24, 8}, {9, 3, 6, 3, 24, 0},
	} {
		nk := c.qOff + c.nq
		hd, kd := c.h*c.d, c.hkv*c.d
		q := make([]float32, c.nq*hd)
		for i := range q {
			q[i] = float32(r.NormFloat64())
		}
		k, kf := bf(nk * kd)
		v, vf := bf(nk * kd)
		o := make([]float32, c.nq*hd)
		AttentionCachedBF16(o, q, k, v, c.nq, nk, c.qOff, c.h, c.hkv, c.d, c.window)
		scale := 1 / math.Sqrt(float64(c.d))
		for i := range c.nq {
			pos := c.qOff + i
			lo, hi := 0, pos+1 // causal; a window of w keeps the last w keys
			if c.window > 0 {
				lo = max(0, pos-c.window+1)
			}
			for hh := range c.h {
				off := hh / (c.h / c.hkv) * c.d
				s := make([]float64, hi-lo)
				mx := math.Inf(-1)
				for j := lo; j < hi; j++ {
					var dot float64
					for e := range c.d {
						dot += float64(compute.RoundBF16(q[i*hd+hh*c.d+e])) * kf[j*kd+off+e]
					}
					s[j-lo] = dot * scale
					mx = max(mx, s[j-lo])
				}
				var sum float64
				for j := range s {
					s[j] = math.Exp(s[j] - mx)
					sum += s[j]
				}
				for e := range c.d {
					var want, bound float64
					for j := range s {
						p := s[j] / sum
						want += float64(compute.RoundBF16(float32(p))) * vf[(lo+j)*kd+off+e]
						bound += p * math.Abs(vf[(lo+j)*kd+off+e])
					}
					got := float64(o[i*hd+hh*c.d+e])
					if d := math.Abs(got - want); d > 0x1p-8*bound+1e-6 {
						t.Fatalf("%+v: row %d head %d [%d] = %v, want %v (|diff| %.3g > %.3g)", c, i, hh, e, got, want, d, 0x1p-8*bound+1e-6)
					}
				}
			}
		}
	}
}
