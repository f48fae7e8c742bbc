package nn

import (
	"math"

	"github.com/strata-ml/strata/engine/compute"
)

// RopeScaling selects a RoPE frequency scaling (config.json rope_scaling).
type RopeScaling struct {
	Kind                          string  // "", "linear" or "llama3"
	Factor                        float64 // linear, llama3
	LowFreqFactor                 float64 // llama3
	HighFreqFactor                float64 // llama3
	OriginalMaxPositionEmbeddings int     // llama3
}

// RopeInvFreq returns the D/2 inverse frequencies θ^(−2i/D), scaled as HF's
// rope_init_fn does for "linear" (÷factor) and "llama3" (frequency-dependent
// smoothing between low_freq_factor and high_freq_factor).
func RopeInvFreq(d int, theta float64, s RopeScaling) []float64 {
	inv := make([]float64, d/2)
	for i := range inv {
		inv[i] = 1 / math.Pow(theta, float64(2*i)/float64(d))
	}
	switch s.Kind {
	case "linear":
		for i := range inv {
			inv[i] /= s.Factor
		}
	case "llama3":
		old := float64(s.OriginalMaxPositionEmbeddings)
		lowWave := old / s.LowFreqFactor
		highWave := old / s.HighFreqFactor
		for i, f := range inv {
			wave := 2 * math.Pi / f
			switch {
			case wave < highWave:
			case wave > lowWave:
				inv[i] = f / s.Factor
			default:
				smooth := (old/wave - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor)
				inv[i] = (1-smooth)*f/s.Factor + smooth*f
			}
		}
	}
	return inv
}

// RopeTable returns cos and sin of pos·invFreq for every token.
//
//	pos (N)  invFreq (D/2)  cos, sin (N, D/2)
func RopeTable(pos []int32, invFreq []float64) (cos, sin []float32) {
	h := len(invFreq)
	cos = make([]float32, len(pos)*h)
	sin = make([]float32, len(pos)*h)
	compute.Parallel(len(pos), func(lo, hi int) {
		for n := lo; n < hi; n++ {
			p := float64(pos[n])
			for i, f := range invFreq {
				s, c := math.Sincos(p * f)
				cos[n*h+i], sin[n*h+i] = float32(c), float32(s)
			}
		}
	})
	return cos, sin
}

// Rope rotates x in place in HF's rotate_half layout: for each head, with
// half = D/2, pairs (x[i], x[i+half]) rotate by angle pos·invFreq[i]:
//
//	x[i]      ← x[i]·cos − x[i+half]·sin
//	x[i+half] ← x[i+half]·cos + x[i]·sin
//
// With inverse=true it rotates by −angle, which is the backward pass (the
// rotation is orthogonal): dx = Rᵀ·dy.
//
//	x (N, nh·D)  cos, sin (N, D/2) from RopeTable
func Rope(x, cos, sin []float32, n, nh, d int, inverse bool) {
	half := d / 2
	sg := float32(1)
	if inverse {
		sg = -1
	}
	compute.Parallel(n, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			c := cos[t*half : (t+1)*half]
			s := sin[t*half : (t+1)*half]
			for h := range nh {
				v := x[(t*nh+h)*d : (t*nh+h+1)*d]
				a, b := v[:half], v[half:d]
				for i := range half {
					si := sg * s[i]
					x1, x2 := a[i], b[i]
					a[i] = x1*c[i] - x2*si
					b[i] = x2*c[i] + x1*si
				}
			}
		}
	})
}
