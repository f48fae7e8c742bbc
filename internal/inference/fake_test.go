package inference

import (
	"errors"
	"strings"
	"sync"

	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/engine/model"
)

// Byte-level fake model and tokenizer for scheduler tests. Token ids are
// bytes (0..255); fakeEOS ends a sequence. The model predicts
// next = last + 1 + shift(adapter), and EOS after 'z'.
const (
	fakeVocab = 258
	fakeEOS   = 257
)

type fakeModel struct {
	cfg    model.Config
	shifts map[*lora.Adapter]int32

	mu      sync.Mutex
	steps   [][]int // per step: new-token count of each sequence
	maxB    int
	failOn  int32         // a token whose presence makes Step fail
	gate    chan struct{} // when set, each Step waits for a receive... send
	stepped chan int      // when set, receives the step index after each Step
}

func newFakeModel() *fakeModel {
	return &fakeModel{cfg: model.Config{VocabSize: fakeVocab, NumHiddenLayers: 1, NumKeyValueHeads: 1, HeadDim: 4, MaxPositionEmbeddings: 4096},
		shifts: map[*lora.Adapter]int32{}, failOn: -1}
}

func (m *fakeModel) Config() *model.Config    { return &m.cfg }
func (m *fakeModel) NewCache() *model.KVCache { return model.NewKVCache(1, 4) }
func (m *fakeModel) adapter(shift int32) *lora.Adapter {
	a := &lora.Adapter{}
	m.mu.Lock()
	m.shifts[a] = shift
	m.mu.Unlock()
	return a
}

func (m *fakeModel) Step(seqs []model.Seq) ([][]float32, error) {
	if m.gate != nil {
		<-m.gate
	}
	m.mu.Lock()
	var sizes []int
	fail := false
	for _, s := range seqs {
		sizes = append(sizes, len(s.Tokens))
		for _, t := range s.Tokens {
			if t == m.failOn {
				fail = true
			}
		}
	}
	m.steps = append(m.steps, sizes)
	m.maxB = max(m.maxB, len(seqs))
	idx := len(m.steps)
	m.mu.Unlock()
	if m.stepped != nil {
		defer func() { m.stepped <- idx }()
	}
	if fail {
		return nil, errors.New("fake: poisoned token")
	}
	out := make([][]float32, len(seqs))
	for i, s := range seqs {
		s.Cache.Reserve(s.Cache.Len + len(s.Tokens))
		s.Cache.Len += len(s.Tokens)
		last := s.Tokens[len(s.Tokens)-1]
		m.mu.Lock()
		next := (last + 1 + m.shifts[s.Adapter]) % 256
		m.mu.Unlock()
		if last == 'z' {
			next = fakeEOS
		}
		l := make([]float32, fakeVocab)
		if next == fakeEOS {
			l[fakeEOS] = 10
		} else {
			l[next] = 10
		}
		out[i] = l
	}
	return out, nil
}

type byteTokenizer struct{}

func (byteTokenizer) Encode(s string) ([]int32, error) {
	ids := make([]int32, len(s))
	for i := range len(s) {
		ids[i] = int32(s[i])
	}
	return ids, nil
}

func (byteTokenizer) Decode(ids []int32) (string, error) {
	b := make([]byte, 0, len(ids))
	for _, id := range ids {
		if id < 256 {
			b = append(b, byte(id))
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD"), nil
}

func fakeBase(m *fakeModel) *Base {
	return &Base{Model: m, Tokenizer: byteTokenizer{}, EOS: []int32{fakeEOS}, ContextLen: 4096}
}
