package optim

import "math"

// GradNorm returns the global L2 norm of all gradients, accumulated in
// float64: √(Σ g²) over every element of every param.
func GradNorm(params []Param) float64 {
	var s float64
	for _, p := range params {
		for _, g := range p.Grad {
			s += float64(g) * float64(g)
		}
	}
	return math.Sqrt(s)
}

// ClipGradNorm scales all gradients in place so that their global L2 norm is
// at most maxNorm, as torch.nn.utils.clip_grad_norm_ does: the factor is
// maxNorm/(norm+1e-6), applied only when it is below 1. It returns the norm
// before clipping. A maxNorm ≤ 0 disables clipping. A NaN or Inf norm is
// returned unchanged and nothing is scaled; the caller treats it as a failure.
func ClipGradNorm(params []Param, maxNorm float64) float64 {
	norm := GradNorm(params)
	if maxNorm <= 0 || math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm
	}
	coef := maxNorm / (norm + 1e-6)
	if coef >= 1 {
		return norm
	}
	c := float32(coef)
	for _, p := range params {
		for i := range p.Grad {
			p.Grad[i] *= c
		}
	}
	return norm
}
