// Package inferencetest provides a deterministic byte-level fake model and
// tokenizer for testing the serving stack without weights: token ids are
// bytes, the model predicts next = last + 1 + shift (per adapter) and ends
// after 'z'.
package inferencetest

import (
	"errors"
	"strings"
	"sync"

	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/engine/model"
)

// Vocabulary: bytes 0..255, 256 unused, EOS = 257.
const (
	Vocab = 258
	EOS   = 257
)

// Model is the fake model. Its exported fields record and steer steps;
// lock Mu to read them while the model runs.
type Model struct {
	Cfg    model.Config
	Shifts map[*lora.Adapter]int32

	Mu      sync.Mutex
	Steps   [][]int // per step: new-token count of each sequence
	MaxB    int
	FailOn  int32         // a token whose presence makes Step fail
	Gate    chan struct{} // when set, each Step first waits for a receive (or close)
	Stepped chan int      // when set, receives the step index after each Step
}

// NewModel returns a fake model with a 4096-token context.
func NewModel() *Model {
	return &Model{Cfg: model.Config{VocabSize: Vocab, NumHiddenLayers: 1, NumKeyValueHeads: 1, HeadDim: 4, MaxPositionEmbeddings: 4096},
		Shifts: map[*lora.Adapter]int32{}, FailOn: -1}
}

// Config returns the model's configuration.
func (m *Model) Config() *model.Config { return &m.Cfg }

// NewCache returns an empty one-layer cache.
func (m *Model) NewCache() *model.KVCache { return model.NewKVCache(1, 4) }

// Adapter returns a new adapter that adds shift to every prediction.
func (m *Model) Adapter(shift int32) *lora.Adapter {
	a := &lora.Adapter{}
	m.Mu.Lock()
	m.Shifts[a] = shift
	m.Mu.Unlock()
	return a
}

// Step predicts, for each sequence, next = last + 1 + shift (mod 256), or
// EOS after 'z'.
func (m *Model) Step(seqs []model.Seq) ([][]float32, error) {
	if m.Gate != nil {
		<-m.Gate
	}
	m.Mu.Lock()
	var sizes []int
	fail := false
	for _, s := range seqs {
		sizes = append(sizes, len(s.Tokens))
		for _, t := range s.Tokens {
			if t == m.FailOn {
				fail = true
			}
		}
	}
	m.Steps = append(m.Steps, sizes)
	m.MaxB = max(m.MaxB, len(seqs))
	idx := len(m.Steps)
	m.Mu.Unlock()
	if m.Stepped != nil {
		defer func() { m.Stepped <- idx }()
	}
	if fail {
		return nil, errors.New("fake: poisoned token")
	}
	out := make([][]float32, len(seqs))
	for i, s := range seqs {
		s.Cache.Reserve(s.Cache.Len + len(s.Tokens))
		s.Cache.Len += len(s.Tokens)
		last := s.Tokens[len(s.Tokens)-1]
		m.Mu.Lock()
		next := (last + 1 + m.Shifts[s.Adapter]) % 256
		m.Mu.Unlock()
		if last == 'z' {
			next = EOS
		}
		l := make([]float32, Vocab)
		if next == EOS {
			l[EOS] = 10
		} else {
			l[next] = 10
		}
		out[i] = l
	}
	return out, nil
}

// ByteTokenizer maps bytes to ids; Decode skips EOS and replaces broken
// UTF-8 with U+FFFD.
type ByteTokenizer struct{}

// Encode returns the bytes of s.
func (ByteTokenizer) Encode(s string) ([]int32, error) {
	ids := make([]int32, len(s))
	for i := range len(s) {
		ids[i] = int32(s[i])
	}
	return ids, nil
}

// Decode returns the text of ids.
func (ByteTokenizer) Decode(ids []int32) (string, error) {
	b := make([]byte, 0, len(ids))
	for _, id := range ids {
		if id < 256 {
			b = append(b, byte(id))
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD"), nil
}
