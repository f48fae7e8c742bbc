// Package optim holds the optimizer the trainer uses: AdamW with decoupled
// weight decay (PyTorch's torch.optim.AdamW), learning-rate schedules (linear
// warmup, then constant, linear or cosine decay) and global gradient-norm
// clipping (torch.nn.utils.clip_grad_norm_).
//
// Parameters are flat float32 slices: a Param names one tensor and holds its
// values and its gradient, both of N elements, whatever the tensor's shape.
// The optimizer keeps its first and second moments as named tensors of the
// same length, so a checkpoint can save and restore them by name.
//
// Shape glossary: N is the element count of one parameter tensor.
package optim

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Param is one trainable tensor seen by the optimizer.
type Param struct {
	Name    string
	Value   []float32 // (N) updated in place
	Grad    []float32 // (N) read only
	NoDecay bool      // exempt from weight decay (norm gains, biases)
}

// AdamWConfig holds AdamW's hyperparameters. The zero value is not useful;
// start from DefaultAdamW.
type AdamWConfig struct {
	Beta1       float64 // default 0.9
	Beta2       float64 // default 0.999
	Eps         float64 // default 1e-8
	WeightDecay float64 // default 0.01 (decoupled: p -= lr*wd*p)
}

// DefaultAdamW returns PyTorch's AdamW defaults.
func DefaultAdamW() AdamWConfig {
	return AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}
}

// Validate reports a hyperparameter out of its range.
func (c AdamWConfig) Validate() error {
	switch {
	case !(c.Beta1 >= 0 && c.Beta1 < 1):
		return fmt.Errorf("optim: beta1 %g not in [0, 1)", c.Beta1)
	case !(c.Beta2 >= 0 && c.Beta2 < 1):
		return fmt.Errorf("optim: beta2 %g not in [0, 1)", c.Beta2)
	case !(c.Eps > 0):
		return fmt.Errorf("optim: eps %g must be > 0", c.Eps)
	case !(c.WeightDecay >= 0):
		return fmt.Errorf("optim: weight decay %g must be >= 0", c.WeightDecay)
	}
	return nil
}

// AdamW is the optimizer state: the step count and the two moments of every
// parameter, keyed by parameter name. It is not safe for concurrent use.
type AdamW struct {
	cfg   AdamWConfig
	step  int                  // optimizer steps taken
	m, v  map[string][]float32 // (N) first and second moments per parameter
	names []string             // parameter names in first-seen order
}

// NewAdamW returns an optimizer with no state.
func NewAdamW(cfg AdamWConfig) (*AdamW, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &AdamW{cfg: cfg, m: map[string][]float32{}, v: map[string][]float32{}}, nil
}

// Config returns the optimizer's hyperparameters.
func (o *AdamW) Config() AdamWConfig { return o.cfg }

// Steps returns the number of steps taken (PyTorch's state["step"]).
func (o *AdamW) Steps() int { return o.step }

// Step applies one AdamW update with learning rate lr to every parameter,
// following torch.optim.AdamW (amsgrad=False, maximize=False):
//
//	p ← p·(1 − lr·wd)
//	m ← β1·m + (1−β1)·g
//	v ← β2·v + (1−β2)·g²
//	p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε)
//
// The moments are computed in float64 per element and stored as float32.
func (o *AdamW) Step(params []Param, lr float64) error {
	for _, p := range params {
		if len(p.Value) != len(p.Grad) {
			return fmt.Errorf("optim: param %q: %d values but %d grads", p.Name, len(p.Value), len(p.Grad))
		}
		if m, ok := o.m[p.Name]; ok && len(m) != len(p.Value) {
			return fmt.Errorf("optim: param %q: size %d, state has %d", p.Name, len(p.Value), len(m))
		}
	}
	o.step++
	t := float64(o.step)
	b1, b2 := o.cfg.Beta1, o.cfg.Beta2
	bc1 := 1 - math.Pow(b1, t)
	bc2sqrt := math.Sqrt(1 - math.Pow(b2, t))
	stepSize := lr / bc1
	for _, p := range params {
		m, ok := o.m[p.Name]
		if !ok {
			m = make([]float32, len(p.Value))
			o.m[p.Name] = m
			o.v[p.Name] = make([]float32, len(p.Value))
			o.names = append(o.names, p.Name)
		}
		v := o.v[p.Name]
		decay := 1.0
		if !p.NoDecay {
			decay = 1 - lr*o.cfg.WeightDecay
		}
		adamwUpdate(p.Value, p.Grad, m, v, decay, b1, b2, stepSize, bc2sqrt, o.cfg.Eps)
	}
	return nil
}

// adamwUpdate is the element loop of Step over (N) slices.
func adamwUpdate(w, g, m, v []float32, decay, b1, b2, stepSize, bc2sqrt, eps float64) {
	g = g[:len(w)]
	m = m[:len(w)]
	v = v[:len(w)]
	for i := range w {
		gi := float64(g[i])
		mi := b1*float64(m[i]) + (1-b1)*gi
		vi := b2*float64(v[i]) + (1-b2)*gi*gi
		m[i] = float32(mi)
		v[i] = float32(vi)
		wi := float64(w[i]) * decay
		wi -= stepSize * mi / (math.Sqrt(vi)/bc2sqrt + eps)
		w[i] = float32(wi)
	}
}

// State is the optimizer state as named tensors, for checkpoints.
type State struct {
	Step    int
	Moments map[string][]float32 // "m/<param>" and "v/<param>", (N) each
}

// State returns a copy of the optimizer state.
func (o *AdamW) State() State {
	s := State{Step: o.step, Moments: make(map[string][]float32, 2*len(o.names))}
	for _, n := range o.names {
		s.Moments["m/"+n] = append([]float32(nil), o.m[n]...)
		s.Moments["v/"+n] = append([]float32(nil), o.v[n]...)
	}
	return s
}

// ErrStateMismatch reports optimizer state that does not fit the parameters.
var ErrStateMismatch = errors.New("optim: state does not match parameters")

// SetState restores a state produced by State. Every moment must name one of
// params and have its size.
func (o *AdamW) SetState(s State, params []Param) error {
	size := make(map[string]int, len(params))
	for _, p := range params {
		size[p.Name] = len(p.Value)
	}
	m := map[string][]float32{}
	v := map[string][]float32{}
	var names []string
	for _, p := range params {
		mm, okm := s.Moments["m/"+p.Name]
		vv, okv := s.Moments["v/"+p.Name]
		if okm != okv {
			return fmt.Errorf("%w: param %q has only one moment", ErrStateMismatch, p.Name)
		}
		if !okm {
			continue
		}
		if len(mm) != len(p.Value) || len(vv) != len(p.Value) {
			return fmt.Errorf("%w: param %q has %d elements, moments %d and %d", ErrStateMismatch, p.Name, len(p.Value), len(mm), len(vv))
		}
		m[p.Name] = append([]float32(nil), mm...)
		v[p.Name] = append([]float32(nil), vv...)
		names = append(names, p.Name)
	}
	for k := range s.Moments {
		name, ok := strings.CutPrefix(k, "m/")
		if !ok {
			name, ok = strings.CutPrefix(k, "v/")
		}
		if _, known := size[name]; !ok || !known {
			return fmt.Errorf("%w: moment %q names no parameter", ErrStateMismatch, k)
		}
	}
	if s.Step < 0 {
		return fmt.Errorf("%w: negative step %d", ErrStateMismatch, s.Step)
	}
	o.step, o.m, o.v, o.names = s.Step, m, v, names
	return nil
}
