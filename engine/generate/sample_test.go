package generate

import (
	"math"
	"testing"
)

func TestGreedy(t *testing.T) {
	tests := []struct {
		logits []float32
		want   int
	}{
		{[]float32{1, 3, 2}, 1},
		{[]float32{5, 5, 1}, 0},
		{[]float32{float32(math.NaN()), 1, 2}, 2},
		{[]float32{-1}, 0},
	}
	for _, tt := range tests {
		if got := Greedy(tt.logits); got != tt.want {
			t.Errorf("Greedy(%v) = %d, want %d", tt.logits, got, tt.want)
		}
		if got := NewSampler(Sampling{}).Sample(tt.logits); got != tt.want {
			t.Errorf("Sample(greedy, %v) = %d, want %d", tt.logits, got, tt.want)
		}
	}
}

// freq samples n tokens and returns the observed frequencies.
func freq(s *Sampler, logits []float32, n int) []float64 {
	f := make([]float64, len(logits))
	for range n {
		f[s.Sample(logits)]++
	}
	for i := range f {
		f[i] /= float64(n)
	}
	return f
}

// TestSampleDistribution checks the frequencies of 40,000 draws against the
// exact filtered softmax. Tolerance 0.01 absolute: the standard error of a
// frequency p over 40,000 draws is at most 0.0025, so 4σ.
func TestSampleDistribution(t *testing.T) {
	logits := []float32{2.0, 1.0, 0.5, 0.0, -1.0, 3.0}
	softmax := func(keep []int, temp float64) []float64 {
		p := make([]float64, len(logits))
		var sum float64
		for _, i := range keep {
			p[i] = math.Exp(float64(logits[i]) / temp)
			sum += p[i]
		}
		for i := range p {
			p[i] /= sum
		}
		return p
	}
	tests := []struct {
		name string
		opts Sampling
		want []float64
	}{
		{"temp1", Sampling{Temperature: 1, Seed: 1}, softmax([]int{0, 1, 2, 3, 4, 5}, 1)},
		{"temp0.5", Sampling{Temperature: 0.5, Seed: 2}, softmax([]int{0, 1, 2, 3, 4, 5}, 0.5)},
		{"topk2", Sampling{Temperature: 1, TopK: 2, Seed: 3}, softmax([]int{5, 0}, 1)},
		// softmax at T=1: 3.0→0.629, 2.0→0.231, 1.0→0.085; top-p 0.8 keeps the first two.
		{"topp0.8", Sampling{Temperature: 1, TopP: 0.8, Seed: 4}, softmax([]int{5, 0}, 1)},
		{"topp0.9", Sampling{Temperature: 1, TopP: 0.9, Seed: 5}, softmax([]int{5, 0, 1}, 1)},
		{"topk3 topp0.85", Sampling{Temperature: 1, TopK: 3, TopP: 0.85, Seed: 6}, softmax([]int{5, 0}, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := freq(NewSampler(tt.opts), logits, 40000)
			for i := range got {
				if math.Abs(got[i]-tt.want[i]) > 0.01 {
					t.Errorf("freq[%d] = %.4f, want %.4f (all %v)", i, got[i], tt.want[i], got)
				}
			}
		})
	}
}

func TestSampleSeeded(t *testing.T) {
	logits := make([]float32, 1000)
	for i := range logits {
		logits[i] = float32(math.Sin(float64(i)))
	}
	opts := Sampling{Temperature: 0.8, TopK: 50, TopP: 0.95, Seed: 42}
	a, b := NewSampler(opts), NewSampler(opts)
	var diff int
	c := NewSampler(Sampling{Temperature: 0.8, TopK: 50, TopP: 0.95, Seed: 43})
	for range 200 {
		x, y := a.Sample(logits), b.Sample(logits)
		if x != y {
			t.Fatalf("same seed gave %d and %d", x, y)
		}
		if c.Sample(logits) != x {
			diff++
		}
	}
	if diff == 0 {
		t.Error("different seeds gave identical streams")
	}
	// Restoring the state replays the stream.
	st, err := a.State()
	if err != nil {
		t.Fatal(err)
	}
	want := a.Sample(logits)
	if err := b.SetState(st); err != nil {
		t.Fatal(err)
	}
	if got := b.Sample(logits); got != want {
		t.Errorf("after SetState got %d, want %d", got, want)
	}
}

func TestSelectTopK(t *testing.T) {
	logits := []float32{0.3, 0.9, 0.1, 0.9, 0.5, 0.7, 0.2}
	for k := 1; k <= len(logits); k++ {
		s := NewSampler(Sampling{Temperature: 1, TopK: k})
		seen := map[int]bool{}
		for range 2000 {
			seen[s.Sample(logits)] = true
		}
		// The k best by (logit desc, id asc): 1,3,5,4,0,6,2.
		order := []int{1, 3, 5, 4, 0, 6, 2}
		for _, id := range order[k:] {
			if seen[id] {
				t.Errorf("k=%d sampled %d outside the top k", k, id)
			}
		}
	}
}

func TestSamplingValidate(t *testing.T) {
	bad := []Sampling{{Temperature: -1}, {Temperature: math.Inf(1)}, {TopK: -1}, {TopP: 1.5}, {TopP: math.NaN()}}
	for _, s := range bad {
		if s.Validate() == nil {
			t.Errorf("Validate(%+v) = nil, want error", s)
		}
	}
	if err := (Sampling{Temperature: 0.7, TopK: 40, TopP: 0.9}).Validate(); err != nil {
		t.Errorf("Validate(valid) = %v", err)
	}
}

func BenchmarkSampleTopP(b *testing.B) {
	logits := make([]float32, 128256)
	for i := range logits {
		logits[i] = float32(math.Sin(float64(i) * 0.37))
	}
	s := NewSampler(Sampling{Temperature: 0.7, TopK: 40, TopP: 0.9, Seed: 1})
	b.ReportAllocs()
	for b.Loop() {
		s.Sample(logits)
	}
}
