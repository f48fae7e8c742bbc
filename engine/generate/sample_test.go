package generate

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
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

// BenchmarkSample draws from a 128k vocabulary (Llama 3's) with Bedrock's
// default settings and others, over logits shaped like a trained model's
// (two leading tokens over a normal bulk of σ 3) and over a flat,
// adversarial set (sin: thousands of near-ties at the top).
func BenchmarkSample(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	peaked, sin := make([]float32, 128256), make([]float32, 128256)
	for i := range peaked {
		peaked[i] = float32(r.NormFloat64() * 3)
		sin[i] = float32(math.Sin(float64(i) * 0.37))
	}
	peaked[77], peaked[99] = 22, 20
	opts := []struct {
		name string
		o    Sampling
	}{
		{"T0.5_topP0.9", Sampling{Temperature: 0.5, TopP: 0.9}},
		{"T1_topP0.95", Sampling{Temperature: 1, TopP: 0.95}},
		{"T0.7_topK40_topP0.9", Sampling{Temperature: 0.7, TopK: 40, TopP: 0.9}},
		{"T1", Sampling{Temperature: 1}},
	}
	for _, lg := range []struct {
		name   string
		logits []float32
	}{{"peaked", peaked}, {"sin", sin}} {
		for _, o := range opts {
			b.Run(lg.name+"/"+o.name, func(b *testing.B) {
				s := NewSampler(o.o)
				b.ReportAllocs()
				for b.Loop() {
					s.Sample(lg.logits)
				}
			})
		}
	}
}

// refSupport is the sampling distribution Sample must draw from, computed
// the plain way: sort the whole vocabulary (logit descending, ties by id),
// softmax at the temperature (float64), keep the top k, then the nucleus.
func refSupport(logits []float32, o Sampling) map[int]float64 {
	var idx []int
	for i, l := range logits {
		if l == l && !math.IsInf(float64(l), -1) {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(logits[b], logits[a]) })
	if o.TopK > 0 && o.TopK < len(idx) {
		idx = idx[:o.TopK]
	}
	mx := float64(logits[idx[0]])
	q := make([]float64, len(idx))
	var sum float64
	for i, t := range idx {
		q[i] = math.Exp((float64(logits[t]) - mx) / o.Temperature)
		sum += q[i]
	}
	n := len(idx)
	if o.TopP > 0 && o.TopP < 1 {
		c := 0.0
		for i := range idx {
			if c += q[i] / sum; c >= o.TopP {
				n = i + 1
				break
			}
		}
	}
	sum = 0
	for i := range n {
		sum += q[i]
	}
	out := map[int]float64{}
	for i, t := range idx[:n] {
		out[t] = q[i] / sum
	}
	return out
}

// TestSampleMatchesSort: over vocabularies shaped like a trained model's
// (one or two leading logits over a normal bulk), flat ones (all tied), a
// lone leader over a heavy tail, and ones with NaN and -Inf logits, every drawn token is in the
// distribution refSupport computes by sorting the vocabulary, and each
// token of probability ≥ 0.05 there is drawn at its frequency within 0.02
// over 6,000 draws (the standard error is at most 0.0065: 3σ).
func TestSampleMatchesSort(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	peaked := func(v int) []float32 {
		l := make([]float32, v)
		for i := range l {
			l[i] = float32(r.NormFloat64() * 3)
		}
		l[v/3], l[v/2] = 12, 11
		return l
	}
	flat := make([]float32, 500)
	odd := peaked(300)
	odd[5], odd[6], odd[7] = float32(math.NaN()), float32(math.Inf(-1)), odd[v2(odd)]
	// One leading token and a tail far below it that holds a quarter of
	// the mass: the nucleus reaches down into the tail.
	tail := make([]float32, 1000)
	for i := range tail {
		tail[i] = 2
	}
	tail[500] = 2 + float32(math.Log(3000))
	vocabs := map[string][]float32{"peaked50": peaked(50), "peaked5000": peaked(5000), "flat": flat, "odd": odd, "tail": tail}
	opts := []Sampling{
		{Temperature: 0.5, TopP: 0.9}, {Temperature: 1, TopP: 0.95}, {Temperature: 3, TopP: 0.5},
		{Temperature: 0.7, TopK: 5}, {Temperature: 1, TopK: 40, TopP: 0.8}, {Temperature: 2}, {Temperature: 0.2, TopK: 1},
	}
	for name, logits := range vocabs {
		for oi, o := range opts {
			o.Seed = uint64(oi)
			want := refSupport(logits, o)
			s := NewSampler(o)
			got := map[int]float64{}
			const draws = 6000
			for range draws {
				tok := s.Sample(logits)
				if _, ok := want[tok]; !ok {
					t.Fatalf("%s %+v: drew %d (logit %v), outside the %d tokens of the distribution", name, o, tok, logits[tok], len(want))
				}
				got[tok] += 1.0 / draws
			}
			for tok, p := range want {
				if p >= 0.05 && math.Abs(got[tok]-p) > 0.02 {
					t.Errorf("%s %+v: token %d drawn %.4f of the time, want %.4f", name, o, tok, got[tok], p)
				}
			}
		}
	}
}

// v2 returns the index of the second largest value (a tie to make).
func v2(l []float32) int {
	best, second := 0, 1
	if l[second] > l[best] {
		best, second = second, best
	}
	for i := 2; i < len(l); i++ {
		switch {
		case l[i] > l[best]:
			best, second = i, best
		case l[i] > l[second]:
			second = i
		}
	}
	return second
}
