package optim

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"testing"
)

type fixture struct {
	AdamW []struct {
		Name                  string
		LR, Beta1, Beta2, Eps float64
		WeightDecay           float64 `json:"weight_decay"`
		Clip                  float64
		LRMult                []float64 `json:"lr_mult"`
		Init                  [][]float32
		Grads                 [][][]float32
		Norms                 []float64
		After                 [][][]float32
	}
	Schedules []struct {
		Peak     float64
		Warmup   int
		Total    int
		Decay    Decay
		MinRatio float64 `json:"min_ratio"`
		LRs      []float64
	}
}

func loadFixture(t *testing.T) fixture {
	t.Helper()
	b, err := os.ReadFile("testdata/adamw.json")
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestAdamWMatchesTorch replays torch.optim.AdamW (float32) step by step,
// including clip_grad_norm_ and per-step learning-rate changes. Tolerance:
// 2e-6 absolute + 1e-5 relative per element (float32 rounding differences
// between torch's vectorized ops and our float64 element loop), 1e-5 relative
// on the gradient norm.
func TestAdamWMatchesTorch(t *testing.T) {
	f := loadFixture(t)
	for _, c := range f.AdamW {
		t.Run(c.Name, func(t *testing.T) {
			opt, err := NewAdamW(AdamWConfig{Beta1: c.Beta1, Beta2: c.Beta2, Eps: c.Eps, WeightDecay: c.WeightDecay})
			if err != nil {
				t.Fatal(err)
			}
			params := make([]Param, len(c.Init))
			for i, w := range c.Init {
				params[i] = Param{Name: string(rune('a' + i)), Value: append([]float32(nil), w...)}
			}
			for step := range c.Grads {
				for i := range params {
					params[i].Grad = append([]float32(nil), c.Grads[step][i]...)
				}
				var norm float64
				if c.Clip > 0 {
					norm = ClipGradNorm(params, c.Clip)
				} else {
					norm = GradNorm(params)
				}
				if d := math.Abs(norm - c.Norms[step]); d > 1e-5*c.Norms[step] {
					t.Errorf("step %d: grad norm = %v, want %v", step, norm, c.Norms[step])
				}
				if err := opt.Step(params, c.LR*c.LRMult[step]); err != nil {
					t.Fatal(err)
				}
				for i, p := range params {
					for j, got := range p.Value {
						want := c.After[step][i][j]
						if d := math.Abs(float64(got - want)); d > 2e-6+1e-5*math.Abs(float64(want)) {
							t.Fatalf("step %d param %d[%d] = %v, want %v (diff %g)", step, i, j, got, want, d)
						}
					}
				}
			}
		})
	}
}

// TestScheduleMatchesTorch compares LR values with torch's LambdaLR driving
// SGD with the same multiplier formula. Tolerance 1e-15 relative.
func TestScheduleMatchesTorch(t *testing.T) {
	f := loadFixture(t)
	for _, s := range f.Schedules {
		sc := Schedule{Peak: s.Peak, Warmup: s.Warmup, Total: s.Total, Decay: s.Decay, MinRatio: s.MinRatio}
		if err := sc.Validate(); err != nil {
			t.Fatal(err)
		}
		for step, want := range s.LRs {
			if got := sc.LR(step); math.Abs(got-want) > 1e-15*math.Max(1, want) {
				t.Errorf("%+v: LR(%d) = %v, want %v", sc, step, got, want)
			}
		}
	}
}

func TestScheduleValidate(t *testing.T) {
	tests := []struct {
		name string
		s    Schedule
		ok   bool
	}{
		{"ok", Schedule{Peak: 1e-4, Warmup: 2, Total: 10, Decay: DecayCosine}, true},
		{"negative lr", Schedule{Peak: -1, Total: 10}, false},
		{"nan lr", Schedule{Peak: math.NaN(), Total: 10}, false},
		{"zero total", Schedule{Peak: 1, Total: 0}, false},
		{"negative warmup", Schedule{Peak: 1, Warmup: -1, Total: 3}, false},
		{"bad decay", Schedule{Peak: 1, Total: 3, Decay: "step"}, false},
		{"bad min", Schedule{Peak: 1, Total: 3, MinRatio: 2}, false},
	}
	for _, tt := range tests {
		if err := tt.s.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestClipLeavesSmallAndNaN(t *testing.T) {
	p := []Param{{Name: "a", Value: make([]float32, 2), Grad: []float32{0.3, 0.4}}}
	if n := ClipGradNorm(p, 1); math.Abs(n-0.5) > 1e-7 || p[0].Grad[0] != 0.3 {
		t.Errorf("ClipGradNorm below max changed grads: norm %v grads %v", n, p[0].Grad)
	}
	p[0].Grad[1] = float32(math.NaN())
	if n := ClipGradNorm(p, 1); !math.IsNaN(n) {
		t.Errorf("ClipGradNorm(NaN grads) = %v, want NaN", n)
	}
}

func TestStateRoundTrip(t *testing.T) {
	mk := func() []Param {
		return []Param{{Name: "w", Value: []float32{1, 2, 3}, Grad: []float32{0.1, -0.2, 0.3}},
			{Name: "b", Value: []float32{0.5}, Grad: []float32{1}, NoDecay: true}}
	}
	a, _ := NewAdamW(DefaultAdamW())
	pa := mk()
	for range 3 {
		if err := a.Step(pa, 1e-2); err != nil {
			t.Fatal(err)
		}
	}
	// Restore into a fresh optimizer and keep going: both must agree exactly.
	b, _ := NewAdamW(DefaultAdamW())
	pb := mk()
	copy(pb[0].Value, pa[0].Value)
	copy(pb[1].Value, pa[1].Value)
	if err := b.SetState(a.State(), pb); err != nil {
		t.Fatal(err)
	}
	_ = a.Step(pa, 1e-2)
	_ = b.Step(pb, 1e-2)
	for i := range pa {
		for j := range pa[i].Value {
			if pa[i].Value[j] != pb[i].Value[j] {
				t.Fatalf("after restore param %d[%d] = %v, want %v", i, j, pb[i].Value[j], pa[i].Value[j])
			}
		}
	}
	bad := a.State()
	bad.Moments["m/zzz"] = []float32{1}
	if err := b.SetState(bad, pb); !errors.Is(err, ErrStateMismatch) {
		t.Errorf("SetState(unknown moment) = %v, want ErrStateMismatch", err)
	}
	bad = a.State()
	bad.Moments["v/w"] = []float32{1}
	if err := b.SetState(bad, pb); !errors.Is(err, ErrStateMismatch) {
		t.Errorf("SetState(short moment) = %v, want ErrStateMismatch", err)
	}
}

func BenchmarkAdamWStep(b *testing.B) {
	const n = 1 << 20
	p := []Param{{Name: "w", Value: make([]float32, n), Grad: make([]float32, n)}}
	for i := range p[0].Grad {
		p[0].Grad[i] = float32(i%7) * 0.01
	}
	o, _ := NewAdamW(DefaultAdamW())
	b.ReportAllocs()
	for b.Loop() {
		_ = o.Step(p, 1e-3)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mparams/s")
}
