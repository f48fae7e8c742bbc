package nn

import (
	"math"
	"sync"

	"github.com/strata-ml/strata/engine/compute"
)

// Embedding gathers rows: out[n] = w[tokens[n]].
//
//	w (V, C)  tokens (N)  out (N, C)
func Embedding(out, w []float32, tokens []int32, c int) {
	compute.Parallel(len(tokens), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			t := int(tokens[i])
			copy(out[i*c:(i+1)*c], w[t*c:(t+1)*c])
		}
	})
}

// EmbeddingBF16 is Embedding over bfloat16 weights.
func EmbeddingBF16(out []float32, w []uint16, tokens []int32, c int) {
	compute.Parallel(len(tokens), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			t := int(tokens[i])
			DecodeBF16Serial(out[i*c:(i+1)*c], w[t*c:(t+1)*c])
		}
	})
}

// DecodeBF16Serial is DecodeBF16 on the calling goroutine.
func DecodeBF16Serial(dst []float32, src []uint16) {
	for i, b := range src {
		dst[i] = math.Float32frombits(uint32(b) << 16)
	}
}

// EmbeddingBackward scatters: dw[tokens[n]] += dout[n].
//
//	dout (N, C)  dw (V, C)
func EmbeddingBackward(dw, dout []float32, tokens []int32, c int) {
	// Parallel over columns so no two workers touch the same element.
	compute.Parallel(c, func(lo, hi int) {
		for i, t := range tokens {
			d := dw[int(t)*c+lo : int(t)*c+hi]
			for j, v := range dout[i*c+lo : i*c+hi] {
				d[j] += v
			}
		}
	})
}

// RMSNorm computes out = x / √(mean(x²) + eps) · g and saves rstd = 1/√(mean(x²)+eps).
//
//	x (N, C)  g (C)  out (N, C)  rstd (N) (may be nil)
func RMSNorm(out, rstd, x, g []float32, n, c int, eps float64) {
	compute.Parallel(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := x[i*c : (i+1)*c]
			r := float32(1 / math.Sqrt(sumSquares(row)/float64(c)+eps))
			if rstd != nil {
				rstd[i] = r
			}
			o := out[i*c : (i+1)*c]
			for j, v := range row {
				o[j] = v * r * g[j]
			}
		}
	})
}

// sumSquares returns Σ x² in float64, in four interleaved partial sums
// (one sum's chain of dependent adds would bound it to an add's latency
// per element).
func sumSquares(x []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a, b, c, d := float64(x[i]), float64(x[i+1]), float64(x[i+2]), float64(x[i+3])
		s0 += a * a
		s1 += b * b
		s2 += c * c
		s3 += d * d
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i]) * float64(x[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// AddRMSNorm adds the residual h to x (x += h) and writes RMSNorm(x) to
// out, in one pass over the rows: Add then RMSNorm (rstd not kept), to the
// bit. out may be h.
//
//	x, h, out (N, C)  g (C)
func AddRMSNorm(out, x, h, g []float32, n, c int, eps float64) {
	compute.Parallel(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := x[i*c : (i+1)*c]
			for j, v := range h[i*c : (i+1)*c] {
				row[j] += v
			}
			r := float32(1 / math.Sqrt(sumSquares(row)/float64(c)+eps))
			o := out[i*c : (i+1)*c]
			for j, v := range row {
				o[j] = v * r * g[j]
			}
		}
	})
}

// RMSNormApply recomputes the RMSNorm output from saved rstd.
func RMSNormApply(out, rstd, x, g []float32, n, c int) {
	compute.Parallel(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			r := rstd[i]
			o := out[i*c : (i+1)*c]
			for j, v := range x[i*c : (i+1)*c] {
				o[j] = v * r * g[j]
			}
		}
	})
}

// RMSNormBackward is the backward of RMSNorm.
//
//	dout, x (N, C)  g (C)  rstd (N)
//	dx (N, C): dx += r·(dout⊙g) − x·r³/C·Σ(dout⊙g⊙x)   (accumulates, for the residual)
//	dg (C):    dg += Σ_n dout⊙x·r   (if non-nil)
func RMSNormBackward(dx, dg, dout, x, g, rstd []float32, n, c int) {
	var mu sync.Mutex
	compute.Parallel(n, func(lo, hi int) {
		var part []float64
		if dg != nil {
			part = make([]float64, c)
		}
		for i := lo; i < hi; i++ {
			r := rstd[i]
			xr := x[i*c : (i+1)*c]
			dr := dout[i*c : (i+1)*c]
			var dot float64
			for j, v := range xr {
				dot += float64(dr[j] * g[j] * v)
			}
			k := float32(dot) * r * r * r / float32(c)
			dxr := dx[i*c : (i+1)*c]
			for j, v := range xr {
				dxr[j] += r*dr[j]*g[j] - v*k
			}
			if part != nil {
				for j, v := range xr {
					part[j] += float64(dr[j] * v * r)
				}
			}
		}
		if part != nil {
			mu.Lock()
			for j, v := range part {
				dg[j] += float32(v)
			}
			mu.Unlock()
		}
	})
}

// SwiGLU computes act = silu(gate) ⊙ up, silu(z) = z·σ(z). act may alias gate.
//
//	gate, up, act (N·FF)
func SwiGLU(act, gate, up []float32) {
	compute.Parallel(len(act), func(lo, hi int) {
		swiglu(act[lo:hi], gate[lo:hi], up[lo:hi])
	})
}

// swiglu is SwiGLU on the calling goroutine, 256 elements at a time: act
// may alias gate, so σ goes through a small buffer.
func swiglu(act, gate, up []float32) {
	var sg [256]float32
	for b := 0; b < len(act); b += len(sg) {
		e := min(b+len(sg), len(act))
		a, g, u := act[b:e], gate[b:e], up[b:e]
		s := sg[:e-b]
		Sigmoid(s, g)
		for i, z := range g {
			a[i] = z * s[i] * u[i]
		}
	}
}

// SwiGLURows is SwiGLU over n rows of gate and up side by side, as one
// product of both projections gives them: act[r] = silu(gu[r][:ff]) ⊙
// gu[r][ff:], computed as SwiGLU computes it (see TestSwiGLURows).
//
//	gu (N, 2·FF)  act (N, FF)
func SwiGLURows(act, gu []float32, n, ff int) {
	compute.Parallel(n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			swiglu(act[r*ff:(r+1)*ff], gu[2*r*ff:(2*r+1)*ff], gu[(2*r+1)*ff:(2*r+2)*ff])
		}
	})
}

// SwiGLUBackward is the backward of SwiGLU; it overwrites dgate and dup.
//
//	dact, gate, up, dgate, dup (N·FF)
func SwiGLUBackward(dgate, dup, dact, gate, up []float32) {
	compute.Parallel(len(dact), func(lo, hi int) {
		Sigmoid(dgate[lo:hi], gate[lo:hi])
	})
	SwiGLUBackwardSigmoid(dgate, dup, dact, gate, up, dgate)
}

// SwiGLUSaveSigmoid is SwiGLU that also stores σ(gate) in sig, so that
// SwiGLUBackwardSigmoid needs no second exponential.
//
//	gate, up, act, sig (N·FF)
func SwiGLUSaveSigmoid(act, sig, gate, up []float32) {
	compute.Parallel(len(act), func(lo, hi int) {
		a, sg, g, u := act[lo:hi], sig[lo:hi], gate[lo:hi], up[lo:hi]
		Sigmoid(sg, g)
		for i, z := range g {
			a[i] = z * sg[i] * u[i]
		}
	})
}

// SwiGLUBackwardSigmoid is SwiGLUBackward given sig = σ(gate) from
// SwiGLUSaveSigmoid; dgate may alias sig.
func SwiGLUBackwardSigmoid(dgate, dup, dact, gate, up, sig []float32) {
	compute.Parallel(len(dact), func(lo, hi int) {
		dg, du, da, g, u, sg := dgate[lo:hi], dup[lo:hi], dact[lo:hi], gate[lo:hi], up[lo:hi], sig[lo:hi]
		for i, z := range g {
			s := sg[i]
			d := da[i]
			du[i] = d * z * s
			dg[i] = d * u[i] * s * (1 + z*(1-s))
		}
	})
}
