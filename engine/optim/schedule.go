package optim

import (
	"fmt"
	"math"
)

// Decay names how the learning rate falls after warmup.
type Decay string

// Decay kinds.
const (
	DecayConstant Decay = "constant" // stay at the peak
	DecayLinear   Decay = "linear"   // straight line to MinRatio·peak at the last step
	DecayCosine   Decay = "cosine"   // half cosine to MinRatio·peak at the last step
)

// Schedule gives the learning rate of each optimizer step: a linear warmup
// from Peak/Warmup to Peak over the first Warmup steps, then Decay down to
// MinRatio·Peak at step Total (one past the last step, as Hugging Face's
// schedules do, so the last step still learns).
//
// Step s (0-based) uses
//
//	s < Warmup:  Peak·(s+1)/Warmup
//	otherwise:   Peak·(MinRatio + (1−MinRatio)·f(p)),  p = (s−Warmup)/max(1, Total−Warmup)
//
// with f(p) = 1 (constant), 1−p (linear) or ½(1+cos πp) (cosine), p clamped
// to [0, 1]. Unlike Hugging Face's get_*_schedule_with_warmup, the first
// warmup step does not run at learning rate 0.
type Schedule struct {
	Peak     float64
	Warmup   int
	Total    int
	Decay    Decay
	MinRatio float64 // in [0, 1]; 0 decays to zero
}

// Validate reports an inconsistent schedule.
func (s Schedule) Validate() error {
	switch {
	case !(s.Peak >= 0) || math.IsInf(s.Peak, 0):
		return fmt.Errorf("optim: learning rate %g must be finite and >= 0", s.Peak)
	case s.Warmup < 0:
		return fmt.Errorf("optim: warmup steps %d must be >= 0", s.Warmup)
	case s.Total < 1:
		return fmt.Errorf("optim: total steps %d must be >= 1", s.Total)
	case !(s.MinRatio >= 0 && s.MinRatio <= 1):
		return fmt.Errorf("optim: min ratio %g not in [0, 1]", s.MinRatio)
	}
	switch s.Decay {
	case DecayConstant, DecayLinear, DecayCosine, "":
	default:
		return fmt.Errorf("optim: unknown decay %q (want constant, linear or cosine)", s.Decay)
	}
	return nil
}

// LR returns the learning rate of step (0-based).
func (s Schedule) LR(step int) float64 {
	if step < s.Warmup {
		return s.Peak * float64(step+1) / float64(s.Warmup)
	}
	den := s.Total - s.Warmup
	if den < 1 {
		den = 1
	}
	p := float64(step-s.Warmup) / float64(den)
	p = math.Min(1, math.Max(0, p))
	var f float64
	switch s.Decay {
	case DecayLinear:
		f = 1 - p
	case DecayCosine:
		f = 0.5 * (1 + math.Cos(math.Pi*p))
	default:
		f = 1
	}
	return s.Peak * (s.MinRatio + (1-s.MinRatio)*f)
}
