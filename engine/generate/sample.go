package generate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Sampling selects how the next token is drawn from the logits. The zero
// value is greedy decoding.
type Sampling struct {
	// Temperature divides the logits; 0 means greedy (argmax), whatever the
	// other fields say.
	Temperature float64 `json:"temperature"`
	// TopK keeps the K most likely tokens; 0 keeps all.
	TopK int `json:"topK,omitempty"`
	// TopP keeps the smallest set of most likely tokens whose probability
	// sums to at least TopP (nucleus sampling); 0 or 1 keeps all.
	TopP float64 `json:"topP,omitempty"`
	// Seed seeds the sampler's random stream: equal seeds and logits give
	// equal tokens.
	Seed uint64 `json:"seed,omitempty"`
}

// Validate reports an out-of-range option.
func (s Sampling) Validate() error {
	switch {
	case !(s.Temperature >= 0) || math.IsInf(s.Temperature, 0):
		return fmt.Errorf("generate: temperature %g must be finite and >= 0", s.Temperature)
	case s.TopK < 0:
		return fmt.Errorf("generate: topK %d must be >= 0", s.TopK)
	case !(s.TopP >= 0 && s.TopP <= 1):
		return fmt.Errorf("generate: topP %g not in [0, 1]", s.TopP)
	}
	return nil
}

// Sampler draws tokens from logits. The order of the filters follows Hugging
// Face's generate: temperature, then top-k, then top-p. A Sampler holds its
// own random stream and scratch space; it is not safe for concurrent use,
// give each sequence its own.
type Sampler struct {
	opts  Sampling
	src   *rand.PCG
	rng   *rand.Rand
	idx   []int32   // (V) candidate token ids
	probs []float64 // (V) candidate probabilities
}

// NewSampler returns a sampler for opts, which must be valid.
func NewSampler(opts Sampling) *Sampler {
	src := rand.NewPCG(opts.Seed, 0x5eed5a3b1e)
	return &Sampler{opts: opts, src: src, rng: rand.New(src)}
}

// Options returns the sampler's options.
func (s *Sampler) Options() Sampling { return s.opts }

// State returns the random stream's state, for checkpointing a sampler.
func (s *Sampler) State() ([]byte, error) { return s.src.MarshalBinary() }

// SetState restores a state from State.
func (s *Sampler) SetState(b []byte) error {
	if err := s.src.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("generate: sampler state: %w", err)
	}
	return nil
}

// Greedy returns the index of the largest logit (the first on ties). NaN
// logits are never chosen unless all are NaN.
func Greedy(logits []float32) int {
	best, bi := float32(math.Inf(-1)), 0
	for i, l := range logits {
		if l > best {
			best, bi = l, i
		}
	}
	return bi
}

// Sample returns the next token id for logits (V). It does not modify logits.
func (s *Sampler) Sample(logits []float32) int {
	if s.opts.Temperature == 0 || len(logits) <= 1 {
		return Greedy(logits)
	}
	idx := s.idx[:0]
	for i := range logits {
		idx = append(idx, int32(i))
	}
	k := s.opts.TopK
	if k <= 0 || k > len(idx) {
		k = len(idx)
	}
	// Sort candidates by logit, descending; stable on ties by id. A full
	// sort is only needed when top-p is on or k covers the vocabulary.
	cmp := func(a, b int32) int {
		la, lb := logits[a], logits[b]
		switch {
		case la > lb:
			return -1
		case la < lb:
			return 1
		}
		return int(a - b)
	}
	if k < len(idx) {
		selectTopK(idx, k, cmp)
		idx = idx[:k]
	}
	slices.SortFunc(idx, cmp)
	// Softmax over the survivors at the temperature.
	probs := s.probs[:0]
	inv := 1 / s.opts.Temperature
	maxL := float64(logits[idx[0]])
	var sum float64
	for _, t := range idx {
		p := math.Exp((float64(logits[t]) - maxL) * inv)
		if math.IsNaN(p) {
			p = 0
		}
		probs = append(probs, p)
		sum += p
	}
	n := len(idx)
	if p := s.opts.TopP; p > 0 && p < 1 {
		var c float64
		for i, q := range probs {
			c += q / sum
			if c >= p {
				n = i + 1
				break
			}
		}
		sum = 0
		for _, q := range probs[:n] {
			sum += q
		}
	}
	s.idx, s.probs = idx, probs
	r := s.rng.Float64() * sum
	for i, q := range probs[:n] {
		r -= q
		if r < 0 {
			return int(idx[i])
		}
	}
	return int(idx[n-1])
}

// selectTopK partially orders idx so that its first k elements are the k
// smallest under cmp (quickselect, average O(V)).
func selectTopK(idx []int32, k int, cmp func(a, b int32) int) {
	lo, hi := 0, len(idx)-1
	for lo < hi {
		p := idx[(lo+hi)/2]
		i, j := lo, hi
		for i <= j {
			for cmp(idx[i], p) < 0 {
				i++
			}
			for cmp(idx[j], p) > 0 {
				j--
			}
			if i <= j {
				idx[i], idx[j] = idx[j], idx[i]
				i++
				j--
			}
		}
		switch {
		case k-1 <= j:
			hi = j
		case k-1 >= i:
			lo = i
		default:
			return
		}
	}
}
